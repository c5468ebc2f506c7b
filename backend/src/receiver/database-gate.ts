import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { isDatabaseUnavailable } from './database-errors.ts';

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15_000;

/**
 * What became of work given to the gate: done; not attempted or failed because the database is
 * unavailable (do not acknowledge: the device sends again); or refused, an error that is not the
 * database's (bad data the database would not take, or a bug on this message's path): the
 * caller records it as this message's rejection and ingestion goes on.
 */
export type GateOutcome<T> = { status: 'done'; value: T } | { status: 'unavailable' } | { status: 'refused'; error: unknown };

/**
 * Keeps the receiver useful while the database is down: after a failure, work is refused for a
 * growing backoff (so devices' re-sends do not hammer a dead server), a probe checks for the
 * database's return, and the health endpoint says unhealthy until a query succeeds again. Nothing
 * is acknowledged meanwhile, so devices keep their readings and re-send them later.
 *
 * Only database errors close it (database-errors.ts): one message that makes the code throw must
 * not stop ingestion for every device. An error that is not recognised either way is settled by
 * the probe: if the database answers, the error was the message's.
 */
export class DatabaseGate {
  private down = false;
  private failures = 0;
  private retryAt = 0;
  private skipped = 0;
  private probing: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly probe: () => Promise<unknown>;
  private readonly isUnavailable: (error: unknown) => boolean;

  constructor(options: { clock: Clock; logger: Logger; probe: () => Promise<unknown>; isUnavailable?: (error: unknown) => boolean }) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.probe = options.probe;
    this.isUnavailable = options.isUnavailable ?? isDatabaseUnavailable;
  }

  get healthy(): boolean {
    return !this.down;
  }

  /** Runs `work` unless the database is known to be down. */
  async run<T>(what: string, work: () => Promise<T>): Promise<GateOutcome<T>> {
    if (this.down && this.clock.now() < this.retryAt) {
      this.skipped++;
      return { status: 'unavailable' };
    }
    try {
      const value = await work();
      this.succeeded();
      return { status: 'done', value };
    } catch (error) {
      if (this.isUnavailable(error) || !(await this.answers())) {
        this.failed(what, error);
        return { status: 'unavailable' };
      }
      return { status: 'refused', error };
    }
  }

  /** Whether the database answers the probe now (it does, unless it is down). */
  private async answers(): Promise<boolean> {
    try {
      await this.probe();
      return true;
    } catch {
      return false;
    }
  }

  private succeeded(): void {
    if (!this.down) return;
    this.logger.info({ event: 'database_up', after_failures: this.failures, skipped_messages: this.skipped }, 'database is back; acknowledging again');
    this.down = false;
    this.failures = 0;
    this.skipped = 0;
  }

  private failed(what: string, error: unknown): void {
    this.failures++;
    const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.retryAt = this.clock.now() + backoff;
    if (!this.down) {
      this.down = true;
      this.logger.error({ event: 'database_down', while: what, err: error }, 'database unavailable: not acknowledging; devices keep and re-send their readings');
    } else {
      this.logger.debug({ event: 'database_still_down', while: what, err: error, backoff_ms: backoff }, 'database still unavailable');
    }
    this.probing ??= this.probeUntilUp().finally(() => {
      this.probing = undefined;
    });
  }

  private async probeUntilUp(): Promise<void> {
    while (this.down) {
      await this.clock.sleep(Math.max(0, this.retryAt - this.clock.now()));
      if (!this.down) return;
      try {
        await this.probe();
        this.succeeded();
      } catch {
        this.failures++;
        this.retryAt = this.clock.now() + Math.min(FIRST_BACKOFF_MS * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
      }
    }
  }

  /** Stops the background probe (at shutdown). */
  stop(): void {
    this.down = false;
  }
}
