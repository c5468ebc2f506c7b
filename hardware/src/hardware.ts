import type { GpioController } from './gpio.ts';
import type { I2cBus } from './i2c.ts';

/** `pi`: the Pi's own drivers; `sim`: simulated in this process; `remote`: simulated by the simulator service over TCP. */
export type HardwareKind = 'pi' | 'sim' | 'remote';

/** Everything a device service may touch. Services receive this; they never open hardware themselves. */
export interface Hardware {
  readonly kind: HardwareKind;
  readonly gpio: GpioController;
  /** Opens /dev/i2c-N (or its simulated twin). Each call returns a new handle. */
  openI2cBus(busNumber: number): Promise<I2cBus>;
  /** Releases everything opened through this object. */
  close(): Promise<void>;
}
