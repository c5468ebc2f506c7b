import type { AdjustableEnvironment } from '../environment/environment.ts';
import type { Level } from '@iot/hardware';
import type { SimGpioController } from '../hardware/sim-gpio.ts';
import type { SimI2cSegment } from '../hardware/sim-i2c.ts';

/** A pin some service has open, as the control channel reports it. */
export interface OpenPinInfo {
  direction: 'in' | 'out';
  level: Level;
}

/**
 * What the control server drives: the handles of simulated hardware beyond the device contract
 * (buttons, bus faults, conditions). SimulatedHardware provides them; the control server depends
 * on this shape only, so the hardware can serve control without the two importing each other.
 */
export interface ControlledHardware {
  readonly gpio: SimGpioController;
  readonly environment: AdjustableEnvironment;
  segment(busNumber: number): SimI2cSegment;
  busNumbers(): number[];
  openPins(): Promise<Map<number, OpenPinInfo>>;
}
