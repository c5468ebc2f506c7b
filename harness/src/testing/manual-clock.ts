import type { Clock } from '@iot/common/clock';

/** One sleep a service is in, on a {@link ManualClock}. */
interface PendingSleep {
  /** What the service asked for. */
  readonly ms: number;
  /** Clock time at which it ends. */
  readonly deadline: number;
}

interface Sleeper extends PendingSleep {
  readonly wake: () => void;
}

/**
 * A clock that moves only when the test moves it, for services that take their time from an
 * injected {@link Clock} (common/src/service/clock.ts). Time-based behaviour (intervals, timeouts,
 * schedules) then becomes exact and independent of how loaded the machine is: a reading due every
 * 100 ms is stamped exactly 100 ms after the previous one, and nothing that waits on the clock can
 * happen before the test advances it.
 *
 * Time jumps, it does not flow: {@link advance} wakes every sleep whose deadline it reaches, once.
 * A service that sleeps again in response sleeps from the new time and needs another advance.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly sleepers = new Set<Sleeper>();

  /** Starts at a fixed, readable instant (2024-01-15T12:00:00Z) unless told otherwise. */
  constructor(startMs = Date.UTC(2024, 0, 15, 12, 0, 0)) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        ms,
        deadline: this.time + Math.max(0, ms),
        wake: () => {
          this.sleepers.delete(sleeper);
          signal?.removeEventListener('abort', sleeper.wake);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      // Ends early on abort, without throwing, as systemClock does.
      signal?.addEventListener('abort', sleeper.wake, { once: true });
    });
  }

  /** The sleeps not yet ended, soonest first. */
  get pending(): readonly PendingSleep[] {
    return [...this.sleepers].sort((a, b) => a.deadline - b.deadline).map(({ ms, deadline }) => ({ ms, deadline }));
  }

  /** Moves time forward by `ms` and ends every sleep whose deadline is reached, soonest first. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`the clock only moves forward, by a finite number of ms; got ${ms}`);
    this.time += ms;
    for (const sleeper of [...this.sleepers].sort((a, b) => a.deadline - b.deadline)) {
      if (sleeper.deadline <= this.time) sleeper.wake();
    }
  }

  /** Moves time to `deadline` (if it lies ahead) and ends the sleeps due by then. */
  advanceTo(deadline: number): void {
    this.advance(Math.max(0, deadline - this.time));
  }

  /**
   * Moves time forward `stepMs` at a time, letting the services react between steps, until `probe`
   * holds; fails after `timeoutMs` of wall time. How far the clock gets depends on how fast the
   * services react, so assert on the times they stamped, not on where the clock ended up.
   */
  async advanceUntil(probe: () => boolean | Promise<boolean>, stepMs: number, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms advancing the clock (now ${new Date(this.time).toISOString()}) until ${what}`);
      this.advance(stepMs);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
