import { GpioError } from '@iot/hardware';
import type { GpioController, GpioPin, GpioPinOptions } from '@iot/hardware';
import type { Hardware } from '@iot/hardware';
import type { I2cBus } from '@iot/hardware';
import { openI2cBusDriver } from './i2c-bus-driver.ts';
import type { OnoffGpioController } from './onoff-gpio.ts';

export interface PiHardwareOptions {
  /** Where to look up the gpiochip base; defaults to /sys/class/gpio. */
  sysfsGpioRoot?: string;
}

/**
 * The real hardware of a Raspberry Pi: GPIO through sysfs (onoff), I2C through /dev/i2c-N
 * (i2c-bus). Both native addons are optional dependencies and are loaded on first use, so a
 * sensor service that only reads I2C never needs onoff to have built, and the reverse.
 */
export async function createPiHardware(options: PiHardwareOptions = {}): Promise<Hardware> {
  return new PiHardware(options);
}

class PiHardware implements Hardware {
  readonly kind = 'pi' as const;
  readonly gpio: LazyOnoffGpioController;
  private readonly buses = new Set<I2cBus>();

  constructor(options: PiHardwareOptions) {
    this.gpio = new LazyOnoffGpioController(options.sysfsGpioRoot);
  }

  async openI2cBus(busNumber: number): Promise<I2cBus> {
    const bus = await openI2cBusDriver(busNumber);
    this.buses.add(bus);
    return bus;
  }

  async close(): Promise<void> {
    const buses = [...this.buses];
    this.buses.clear();
    await Promise.all([this.gpio.close(), ...buses.map((bus) => bus.close())]);
  }
}

/** Creates the onoff controller on the first `open`, so merely composing hardware loads no addon. */
class LazyOnoffGpioController implements GpioController {
  private readonly sysfsRoot: string | undefined;
  private controller: Promise<OnoffGpioController> | undefined;
  private loaded: OnoffGpioController | undefined;

  constructor(sysfsRoot: string | undefined) {
    this.sysfsRoot = sysfsRoot;
  }

  /** Problems that did not prevent opening a pin, such as a pull resistor that could not be set. */
  get warnings(): readonly string[] {
    return this.loaded?.warnings ?? [];
  }

  async open(options: GpioPinOptions): Promise<GpioPin> {
    this.controller ??= this.load();
    let controller: OnoffGpioController;
    try {
      controller = await this.controller;
    } catch (error) {
      this.controller = undefined;
      throw new GpioError(options.pin, `cannot load the onoff GPIO driver (optional dependency not built?): ${String(error)}`, {
        cause: error,
      });
    }
    return controller.open(options);
  }

  async close(): Promise<void> {
    await this.loaded?.close();
  }

  private async load(): Promise<OnoffGpioController> {
    const { createOnoffGpioController } = await import('./onoff-gpio.ts');
    const controller = await createOnoffGpioController(this.sysfsRoot === undefined ? {} : { sysfsRoot: this.sysfsRoot });
    this.loaded = controller;
    return controller;
  }
}
