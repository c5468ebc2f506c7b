import type { Clock } from '@iot/common/clock';

/** A sleep that others can cut short: waiters resolve on {@link wake}, on timeout, or when their signal aborts. */
export class Wakeup {
  private readonly waiters = new Set<AbortController>();
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Ends every current wait. */
  wake(): void {
    for (const waiter of this.waiters) waiter.abort();
    this.waiters.clear();
  }

  /** Sleeps up to `ms`; resolves early on {@link wake} or when `signal` aborts. Never rejects. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const waiter = new AbortController();
    const onAbort = () => waiter.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.waiters.add(waiter);
    try {
      await this.clock.sleep(ms, waiter.signal);
    } finally {
      this.waiters.delete(waiter);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
