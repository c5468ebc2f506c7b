import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15_000;

/**
 * Keeps the receiver useful while the database is down: after a failure, work is refused for a
 * growing backoff (so devices' re-sends do not hammer a dead server), a probe checks for the
 * database's return, and the health endpoint says unhealthy until a query succeeds again. Nothing
 * is acknowledged meanwhile, so devices keep their readings and re-send them later.
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

  constructor(options: { clock: Clock; logger: Logger; probe: () => Promise<unknown> }) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.probe = options.probe;
  }

  get healthy(): boolean {
    return !this.down;
  }

  /** Runs `work` unless the database is known to be down; undefined means "not done, do not ack". */
  async run<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    if (this.down && this.clock.now() < this.retryAt) {
      this.skipped++;
      return undefined;
    }
    try {
      const result = await work();
      this.succeeded();
      return result;
    } catch (error) {
      this.failed(what, error);
      return undefined;
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
