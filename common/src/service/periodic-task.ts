import type { Clock } from './clock.ts';

/**
 * Runs `round` again and again with `periodMs` of the injected clock between rounds, until
 * stopped. A round is never interrupted: {@link stop} waits for the one in progress, so a service
 * that stops its periodic work next can release what that work holds. `round` must not throw;
 * a failing round is the caller's to log and retry.
 */
export class PeriodicTask {
  private readonly clock: Clock;
  private readonly periodMs: number;
  private readonly round: () => Promise<void>;
  private running: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: { clock: Clock; periodMs: number; round: () => Promise<void> }) {
    this.clock = options.clock;
    this.periodMs = options.periodMs;
    this.round = options.round;
  }

  /** Starts the rounds, the first at once; starting a running task does nothing. */
  start(): void {
    if (this.running !== undefined) return;
    const running = new AbortController();
    this.running = running;
    this.loop = (async () => {
      while (!running.signal.aborted) {
        await this.round();
        await this.clock.sleep(this.periodMs, running.signal);
      }
    })();
  }

  /** Ends the rounds after the one in progress. */
  async stop(): Promise<void> {
    this.running?.abort();
    await this.loop;
    this.running = undefined;
    this.loop = undefined;
  }
}
