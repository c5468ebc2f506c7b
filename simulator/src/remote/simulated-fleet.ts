import { type Logger, silentLogger } from '@iot/common/log';
import { type ControlledDevices, ControlHandler } from '../control/control-handler.ts';
import { createSimulatedHardware, type SimulatedHardware } from '../hardware/simulated-hardware.ts';
import type { SimulationOptions } from '../hardware/simulation-options.ts';
import { DEVICE_NAME_PATTERN } from './remote-protocol.ts';

/** One simulated device of the fleet: its hardware and the control handler scenarios reach it by. */
export interface FleetDevice {
  readonly name: string;
  readonly seed: number;
  readonly hardware: SimulatedHardware;
  readonly control: ControlHandler;
}

export interface SimulatedFleetOptions {
  /** Chips every device gets (SIM_CHIPS on SIM_I2C_BUS). */
  chips?: SimulationOptions['chips'];
  /** What the chips of every device sense (SIM_ENVIRONMENT); each device follows it on its own. */
  environment?: string;
  /** Base seed (SIM_SEED); each device's seed derives from it and the device's name. */
  seed?: number;
  /** Devices the fleet will hold (SIM_MAX_DEVICES); the next new name is refused. Default 1000. */
  maxDevices?: number;
  /** Runs on each new device before any service uses it, e.g. a test wiring two pins together. */
  setup?: (hardware: SimulatedHardware, name: string) => void;
  logger?: Logger;
}

/** A new name was refused, with a message saying why. */
export class FleetRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FleetRefusedError';
  }
}

/**
 * The simulated devices of the simulator service, by name. A device is created the first time a
 * service names it, so the compose file alone says how many there are; the sensor and the button
 * container of one device name the same device and so share one hardware.
 */
export class SimulatedFleet implements ControlledDevices {
  private readonly options: SimulatedFleetOptions;
  private readonly logger: Logger;
  private readonly maxDevices: number;
  private readonly devices = new Map<string, FleetDevice>();
  private readonly creating = new Map<string, Promise<FleetDevice>>();
  private closed = false;

  constructor(options: SimulatedFleetOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.maxDevices = options.maxDevices ?? 1000;
  }

  /** The device named `name`, or undefined if no service has named it yet. */
  device(name: string): FleetDevice | undefined {
    return this.devices.get(name);
  }

  names(): string[] {
    return [...this.devices.keys()];
  }

  handler(name: string): ControlHandler | undefined {
    return this.devices.get(name)?.control;
  }

  get size(): number {
    return this.devices.size;
  }

  /**
   * The device named `name`, created if this is the first time anyone names it.
   * @throws FleetRefusedError for a malformed name or when the fleet is full.
   */
  async obtain(name: string): Promise<{ device: FleetDevice; created: boolean }> {
    const existing = this.devices.get(name);
    if (existing !== undefined) return { device: existing, created: false };
    const pending = this.creating.get(name);
    if (pending !== undefined) return { device: await pending, created: false };
    if (this.closed) throw new FleetRefusedError('the simulator is shutting down');
    if (!DEVICE_NAME_PATTERN.test(name)) {
      throw new FleetRefusedError(`device name ${JSON.stringify(name.slice(0, 80))} must be 1–64 of A–Z a–z 0–9 . _ - (SIM_REMOTE_DEVICE)`);
    }
    if (this.devices.size + this.creating.size >= this.maxDevices) {
      throw new FleetRefusedError(
        `the simulator already holds its maximum of ${this.maxDevices} devices (SIM_MAX_DEVICES); device "${name}" was refused: raise SIM_MAX_DEVICES or reuse a device name`,
      );
    }
    const creation = this.create(name).finally(() => this.creating.delete(name));
    this.creating.set(name, creation);
    return { device: await creation, created: true };
  }

  /** Releases every device's hardware; later new names are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.creating.values()]);
    await Promise.all([...this.devices.values()].map((device) => device.hardware.close()));
    this.devices.clear();
  }

  private async create(name: string): Promise<FleetDevice> {
    const seed = deviceSeed(this.options.seed ?? 1, name);
    const hardware = await createSimulatedHardware({
      ...(this.options.chips === undefined ? {} : { chips: this.options.chips }),
      environment: this.options.environment ?? 'room',
      seed,
    });
    this.options.setup?.(hardware, name);
    const device: FleetDevice = { name, seed, hardware, control: new ControlHandler(hardware) };
    this.devices.set(name, device);
    this.logger.info({ event: 'device_created', device: name, seed, devices: this.devices.size }, `simulated device "${name}" created`);
    return device;
  }
}

/**
 * A device's seed: FNV-1a over the base seed and the name, so devices differ from each other yet
 * each is the same on every run with the same SIM_SEED.
 */
export function deviceSeed(baseSeed: number, name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(`${baseSeed}/${name}`, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}
