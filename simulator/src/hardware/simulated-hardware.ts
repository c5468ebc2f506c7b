import type { Hardware, I2cBus, SimulationOptions } from '@iot/device/hardware';
import { Bme280Model } from '../chips/bme280-model.ts';
import { Sht31Model } from '../chips/sht31-model.ts';
import { AdjustableEnvironment } from '../environment/environment.ts';
import { environmentFromSpec } from '../environment/environment-spec.ts';
import { createRandom } from '../random.ts';
import type { I2cDeviceModel } from './i2c-device-model.ts';
import { SimGpioController } from './sim-gpio.ts';
import { SimI2cSegment } from './sim-i2c.ts';

/**
 * A whole simulated device's hardware: GPIO lines with buttons, I2C segments with chip models,
 * and the environment those chips sense. Services see only the {@link Hardware} contract; tests
 * and scenarios use the extra handles (buttons, faults, conditions).
 */
export class SimulatedHardware implements Hardware {
  readonly kind = 'sim' as const;
  readonly gpio: SimGpioController;
  readonly environment: AdjustableEnvironment;
  private readonly segments = new Map<number, SimI2cSegment>();
  private readonly openBuses = new Set<I2cBus>();

  constructor(options: { seed?: number; environment?: AdjustableEnvironment } = {}) {
    this.gpio = new SimGpioController({ seed: options.seed ?? 1 });
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

  /** The chip model at `address` on bus `busNumber`, for injecting faults. */
  chip<T extends I2cDeviceModel>(busNumber: number, address: number): T {
    const model = this.segment(busNumber).device(address);
    if (model === undefined) throw new Error(`no simulated chip at bus ${busNumber}, address 0x${address.toString(16)}`);
    return model as T;
  }

  async openI2cBus(busNumber: number): Promise<I2cBus> {
    const bus = this.segment(busNumber).open();
    this.openBuses.add(bus);
    return bus;
  }

  async close(): Promise<void> {
    await this.gpio.close();
    await Promise.all([...this.openBuses].map((bus) => bus.close()));
    this.openBuses.clear();
  }
}

/** Builds simulated hardware from the plain options a device service's config produces. */
export function createSimulatedHardware(options: SimulationOptions): SimulatedHardware {
  const seed = options.seed ?? 1;
  const environment = new AdjustableEnvironment(environmentFromSpec(options.environment ?? 'room'));
  const hardware = new SimulatedHardware({ seed, environment });
  const random = createRandom(seed);
  for (const chip of options.chips ?? []) {
    const modelOptions = { environment, random };
    const model = chip.kind === 'sht31' ? new Sht31Model(modelOptions) : new Bme280Model(modelOptions);
    hardware.segment(chip.busNumber).attach(chip.address, model);
  }
  return hardware;
}
