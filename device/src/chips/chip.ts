import type { Clock } from '@iot/common/clock';
import type { Quantity } from '@iot/common/protocol';
import type { I2cBus } from '@iot/hardware';

export type ChipKind = 'bme280' | 'sht31';

/** Physical values of one sample, keyed by stream field name (e.g. `temperature_celsius`). */
export type Sample = Partial<Record<Quantity, number>>;

/**
 * A sensor chip driver. Drivers speak registers or commands over an {@link I2cBus} and reject with
 * the typed errors of `../hardware/errors.ts`; they never retry by themselves, so the service
 * decides what a failure costs.
 */
export interface ChipDriver {
  readonly kind: ChipKind;
  readonly busNumber: number;
  readonly address: number;
  /** The quantities each sample contains. */
  readonly quantities: readonly Quantity[];
  /**
   * Identifies the chip, resets it, loads calibration and configures it. Safe to call again to
   * recover after any error.
   */
  init(): Promise<void>;
  /** Triggers one conversion, waits for it and returns compensated physical values. */
  read(): Promise<Sample>;
}

export interface ChipDriverOptions {
  bus: I2cBus;
  address: number;
  /** Used for conversion waits; injected so simulations control time. */
  clock: Clock;
}
