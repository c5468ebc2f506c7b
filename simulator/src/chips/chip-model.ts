import type { Clock } from '@iot/common/clock';
import type { Environment } from '../environment/environment.ts';
import type { Random } from '../random.ts';

/** Options every register-level chip model takes. */
export interface ChipModelOptions {
  /** What the chip senses. */
  environment: Environment;
  /** Conversion timing follows this clock; defaults to the system clock. */
  clock?: Clock;
  /** Source of measurement noise; without one the model is noise-free. */
  random?: Random;
  /**
   * Multiplies the datasheet conversion times (1 = as the real chip, 0 = instant). Benchmarks use 0
   * to measure the software rather than the chip.
   */
  timeScale?: number;
}

/**
 * Data faults a model can inject (bus faults such as NACK and a stuck bus belong to the segment).
 * `crc`: the checksum bytes of every frame are wrong. `implausible`: the raw values read back are
 * physically impossible (e.g. the ADC reads all ones).
 */
export type ChipModelFault = 'crc' | 'implausible';
