import type { Clock } from '@iot/common/clock';

/** A login attempt that may go ahead; it counts as a failure unless released or reset. */
export interface Reservation {
  ok: true;
  /** Forgets this attempt (it never reached the password check, e.g. the database failed). */
  release(): void;
}

export interface Refusal {
  ok: false;
  /** Seconds until the key may try again. */
  retryAfterSeconds: number;
}

/** Keys kept before expired ones are swept out: bounds memory under a spray of usernames. */
const SWEEP_ABOVE_KEYS = 10_000;

/**
 * Login attempts per key (client address + account) in a sliding window: at most `maxFailures`
 * within `windowMs`, after which attempts are refused until the oldest leaves the window. So
 * password guessing runs at most `maxFailures` per window per account and address.
 *
 * An attempt is counted when it is reserved, before the password hash is checked, not after:
 * the check takes tens of milliseconds, and counting afterwards let any number of concurrent
 * attempts pass a limit that none of them had yet added to. A reservation that ends in a failure
 * simply stays; a success resets the key; one that never reached the check is released.
 */
export class LoginLimiter {
  private readonly attempts = new Map<string, number[]>();
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(clock: Clock, maxFailures: number, windowMs: number) {
    this.clock = clock;
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
  }

  /** Reserves an attempt for `key`, or refuses when the window is full. Synchronous, so atomic. */
  reserve(key: string): Reservation | Refusal {
    const now = this.clock.now();
    if (this.attempts.size > SWEEP_ABOVE_KEYS) this.sweep(now);
    const recent = this.recent(key, now);
    if (recent.length >= this.maxFailures) {
      const oldest = recent[recent.length - this.maxFailures] ?? now;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000)) };
    }
    recent.push(now);
    this.attempts.set(key, recent);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const list = this.attempts.get(key);
        const at = list?.indexOf(now) ?? -1;
        if (list !== undefined && at >= 0) list.splice(at, 1);
      },
    };
  }

  /** A successful login forgets the key's attempts. */
  reset(key: string): void {
    this.attempts.delete(key);
  }

  private recent(key: string, now: number): number[] {
    const since = now - this.windowMs;
    const recent = (this.attempts.get(key) ?? []).filter((at) => at > since);
    if (recent.length === 0) this.attempts.delete(key);
    return recent;
  }

  private sweep(now: number): void {
    for (const key of [...this.attempts.keys()]) this.recent(key, now);
  }
}
