import type { GpioPin, GpioPinOptions, Hardware, I2cBus } from '@iot/hardware';
import { Bme280Model } from '../chips/bme280-model.ts';
import { Sht31Model } from '../chips/sht31-model.ts';
import type { ControlServer } from '../control/control-server.ts';
import type { ControlledHardware, OpenPinInfo } from '../control/controlled-hardware.ts';
import { AdjustableEnvironment } from '../environment/environment.ts';
import { environmentFromSpec } from '../environment/environment-spec.ts';
import { createRandom } from '../random.ts';
import type { I2cDeviceModel } from './i2c-device-model.ts';
import { SimGpioController } from './sim-gpio.ts';
import { SimI2cSegment } from './sim-i2c.ts';
import type { SimulationOptions } from './simulation-options.ts';


/**
 * Simulated GPIO that remembers which pins services opened, so a controller in another process
 * can refuse to press a button nobody watches (a wrong BUTTON_PIN) and report pin levels.
 */
class ObservedGpioController extends SimGpioController {
  private readonly opened = new Map<number, { handle: GpioPin; direction: 'in' | 'out' }>();

  override async open(options: GpioPinOptions): Promise<GpioPin> {
    const handle = await super.open(options);
    this.opened.set(options.pin, { handle, direction: options.direction });
    return handle;
  }

  async openedPins(): Promise<Map<number, OpenPinInfo>> {
    const pins = new Map<number, OpenPinInfo>();
    for (const [pin, { handle, direction }] of [...this.opened]) {
      try {
        pins.set(pin, { direction, level: await handle.read() });
      } catch {
        // Reading a closed pin fails: the service let go of it.
        this.opened.delete(pin);
      }
    }
    return pins;
  }
}

/**
 * A whole simulated device's hardware: GPIO lines with buttons, I2C segments with chip models,
 * and the environment those chips sense. Services see only the {@link Hardware} contract; tests
 * and scenarios use the extra handles (buttons, faults, conditions), in-process or through the
 * control socket.
 */
export class SimulatedHardware implements Hardware, ControlledHardware {
  readonly kind = 'sim' as const;
  readonly gpio: SimGpioController;
  readonly environment: AdjustableEnvironment;
  private readonly observedGpio: ObservedGpioController;
  private readonly segments = new Map<number, SimI2cSegment>();
  private readonly openBuses = new Set<I2cBus>();
  private control: ControlServer | undefined;

  constructor(options: { seed?: number; environment?: AdjustableEnvironment } = {}) {
    this.observedGpio = new ObservedGpioController({ seed: options.seed ?? 1 });
    this.gpio = this.observedGpio;
    this.environment = options.environment ?? new AdjustableEnvironment();
  }

  /** The simulated wires of I2C bus `busNumber` (created on first use). */
  segment(busNumber: number): SimI2cSegment {
    let segment = this.segments.get(busNumber);
    if (segment === undefined) {
      segment = new SimI2cSegment(busNumber);
      this.segments.set(busNumber, segment);
    }
    return segment;
  }

  /** Buses that exist so far (chips placed on them or opened by a service), ascending. */
  busNumbers(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  /** The chip model at `address` on bus `busNumber`, for injecting faults. */
  chip<T extends I2cDeviceModel>(busNumber: number, address: number): T {
    const model = this.segment(busNumber).device(address);
    if (model === undefined) throw new Error(`no simulated chip at bus ${busNumber}, address 0x${address.toString(16)}`);
    return model as T;
  }

  /** Pins a service currently has open, with their levels. */
  openPins(): Promise<Map<number, OpenPinInfo>> {
    return this.observedGpio.openedPins();
  }

  /**
   * Serves the control protocol on the unix socket `socketPath` until {@link close}, so a test
   * in another process can press buttons and inject faults. Rejects if the socket cannot be bound.
   */
  async serveControl(socketPath: string): Promise<void> {
    if (this.control !== undefined) throw new Error(`simulation control is already served on ${this.control.socketPath}`);
    // Loaded here, not at the top: a device that serves no control socket (every real run) saves its memory.
    const { ControlServer } = await import('../control/control-server.ts');
    this.control = await ControlServer.listen(socketPath, this);
  }

  async openI2cBus(busNumber: number): Promise<I2cBus> {
    const bus = this.segment(busNumber).open();
    this.openBuses.add(bus);
    return bus;
  }

  async close(): Promise<void> {
    await this.control?.close();
    this.control = undefined;
    await this.gpio.close();
    await Promise.all([...this.openBuses].map((bus) => bus.close()));
    this.openBuses.clear();
  }
}

/**
 * Builds simulated hardware from the plain options a device service's config produces, and
 * serves the control socket when one is configured (SIM_CONTROL_SOCKET).
 */
export async function createSimulatedHardware(options: SimulationOptions): Promise<SimulatedHardware> {
  const seed = options.seed ?? 1;
  const environment = new AdjustableEnvironment(environmentFromSpec(options.environment ?? 'room'));
  const hardware = new SimulatedHardware({ seed, environment });
  const random = createRandom(seed);
  for (const chip of options.chips ?? []) {
    const modelOptions = { environment, random };
    const model = chip.kind === 'sht31' ? new Sht31Model(modelOptions) : new Bme280Model(modelOptions);
    hardware.segment(chip.busNumber).attach(chip.address, model);
  }
  if (options.controlSocket !== undefined) await hardware.serveControl(options.controlSocket);
  return hardware;
}
