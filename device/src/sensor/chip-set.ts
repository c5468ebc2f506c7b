import type { Logger } from '@iot/common/log';
import type { ChipDriver } from '../chips/chip.ts';
import { describe, fieldName, type SensorSpec } from '../chips/sensor-spec.ts';
import { HardwareError } from '@iot/hardware';

/** How often a chip that keeps failing is logged again (the first failures are always logged). */
const REPEAT_LOG_MS = 60_000;
const ALWAYS_LOG_FIRST = 3;

interface ChipState {
  spec: SensorSpec;
  driver: ChipDriver;
  ready: boolean;
  consecutiveFailures: number;
  lastLoggedAt: number;
}

/**
 * The configured chips, read together into one sample. A failing chip costs only its own values
 * for that sample: the error is typed, logged and counted, and the chip is re-initialised on the
 * next sample, which is how it recovers from a reset, a brown-out or a re-plugged cable.
 */
export class ChipSet {
  private readonly chips: ChipState[];
  private readonly errors = new Map<string, number>();
  private readonly logger: Logger;

  constructor(chips: readonly { spec: SensorSpec; driver: ChipDriver }[], logger: Logger) {
    this.chips = chips.map((c) => ({ ...c, ready: false, consecutiveFailures: 0, lastLoggedAt: 0 }));
    this.logger = logger;
  }

  /** Error counts by chip and code, e.g. `{"bme280@0x76 i2c_nack": 3}`. */
  errorCounts(): Record<string, number> {
    return Object.fromEntries(this.errors);
  }

  /** Reads every chip; returns the values of those that answered, or undefined if none did. */
  async sample(now: number): Promise<Record<string, number> | undefined> {
    const values: Record<string, number> = {};
    let any = false;
    for (const chip of this.chips) {
      try {
        if (!chip.ready) {
          await chip.driver.init();
          chip.ready = true;
        }
        const sample = await chip.driver.read();
        for (const [quantity, value] of Object.entries(sample)) values[fieldName(chip.spec, quantity)] = value;
        any = true;
        this.recovered(chip);
      } catch (error) {
        this.failed(chip, error, now);
      }
    }
    return any ? values : undefined;
  }

  private failed(chip: ChipState, error: unknown, now: number): void {
    chip.ready = false;
    chip.consecutiveFailures++;
    const code = error instanceof HardwareError ? error.code : 'unexpected';
    const key = `${describe(chip.spec)} ${code}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    if (chip.consecutiveFailures > ALWAYS_LOG_FIRST && now - chip.lastLoggedAt < REPEAT_LOG_MS) return;
    chip.lastLoggedAt = now;
    const fields = {
      event: 'chip_error',
      chip: describe(chip.spec),
      code,
      consecutive_failures: chip.consecutiveFailures,
      err: error instanceof HardwareError ? { type: error.name, message: error.message } : error,
    };
    // A HardwareError is the world misbehaving; anything else is a bug in a driver.
    if (error instanceof HardwareError) this.logger.warn(fields, `sensor chip failed; sample skipped: ${error.message}`);
    else this.logger.error(fields, 'sensor chip driver threw an unexpected error; sample skipped');
  }

  private recovered(chip: ChipState): void {
    if (chip.consecutiveFailures === 0) return;
    this.logger.info(
      { event: 'chip_recovered', chip: describe(chip.spec), failures: chip.consecutiveFailures },
      'sensor chip answers again',
    );
    chip.consecutiveFailures = 0;
  }
}
