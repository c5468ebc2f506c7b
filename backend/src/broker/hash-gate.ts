/**
 * Caps how many password hashes run at once, and in what order the waiting ones start.
 *
 * scrypt runs on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), so
 * it never blocks the event loop, but a pool busy with an attacker's guesses queues everyone's
 * hashes behind them. The gate keeps at most `concurrency` hashes in the pool, lets logins from a
 * trusted (username, address) pair (login-throttle.ts) start before any other waiting login, and
 * refuses a new untrusted login outright once `maxWaiting` are queued — it is then answered at
 * once with "server unavailable" instead of waiting seconds.
 */
export interface HashGateOptions {
  concurrency: number;
  maxWaiting: number;
}

export const DEFAULT_HASH_GATE: HashGateOptions = { concurrency: 3, maxWaiting: 256 };

export type HashLane = 'trusted' | 'other';

export class HashGate {
  private readonly options: HashGateOptions;
  private running = 0;
  private readonly waiting: Record<HashLane, (() => void)[]> = { trusted: [], other: [] };

  constructor(options: Partial<HashGateOptions> = {}) {
    this.options = { ...DEFAULT_HASH_GATE, ...options };
  }

  /**
   * Runs `task` when a slot is free; undefined (and `task` never runs) when it would have to wait
   * and the `other` lane is full. The trusted lane has no bound: its size is bounded by the remembered pairs.
   */
  run<T>(lane: HashLane, task: () => Promise<T>): Promise<T> | undefined {
    const mustWait = this.running >= this.options.concurrency;
    if (mustWait && lane === 'other' && this.waiting.other.length >= this.options.maxWaiting) return undefined;
    return new Promise<void>((start) => {
      if (this.running < this.options.concurrency) {
        this.running++;
        start();
      } else {
        this.waiting[lane].push(start);
      }
    }).then(async () => {
      try {
        return await task();
      } finally {
        this.release();
      }
    });
  }

  /** Hashes running and waiting, for metrics and tests. */
  load(): { running: number; trusted: number; other: number } {
    return { running: this.running, trusted: this.waiting.trusted.length, other: this.waiting.other.length };
  }

  private release(): void {
    const next = this.waiting.trusted.shift() ?? this.waiting.other.shift();
    if (next === undefined) this.running--;
    else next(); // the slot passes straight to the next waiter
  }
}
