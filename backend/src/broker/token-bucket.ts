/** Milliseconds from a monotonic source; injected so tests move time themselves. */
export interface MonotonicClock {
  now(): number;
}

export const monotonicClock: MonotonicClock = { now: () => performance.now() };

export interface TokenBucketOptions {
  /** Tokens a bucket holds when full: how many takes a key gets in a burst. */
  capacity: number;
  /** Milliseconds to regain one token. */
  refillMs: number;
  /**
   * Most keys remembered. Beyond it the least recently used key is forgotten, which is the same as
   * a full bucket, so memory stays bounded whatever keys an attacker invents.
   */
  maxKeys: number;
  clock?: MonotonicClock;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key (Turner 1986; the shape of RFC 2697's single-rate meter): each key holds up
 * to `capacity` tokens and regains one every `refillMs`. A key never seen, or forgotten, counts as
 * full, so only keys that took something recently cost memory.
 */
export class TokenBuckets {
  private readonly options: Required<TokenBucketOptions>;
  /** Insertion order is recency order: a touched key is deleted and set again. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    if (!(options.capacity >= 1) || !(options.refillMs > 0) || !(options.maxKeys >= 1)) throw new RangeError('token buckets need capacity ≥ 1, refillMs > 0 and maxKeys ≥ 1');
    this.options = { clock: monotonicClock, ...options };
  }

  /** Tokens `key` holds now (fractional while refilling). */
  available(key: string): number {
    const bucket = this.buckets.get(key);
    return bucket === undefined ? this.options.capacity : this.refilled(bucket, this.options.clock.now());
  }

  /** Takes one token if `key` has one; false leaves the bucket as it was. */
  tryTake(key: string): boolean {
    const now = this.options.clock.now();
    const existing = this.buckets.get(key);
    const tokens = existing === undefined ? this.options.capacity : this.refilled(existing, now);
    if (tokens < 1) return false;
    this.store(key, { tokens: tokens - 1, at: now });
    return true;
  }

  /**
   * Takes one token whether or not there is one, down to `floor` (≤ 0): a debt the refill must pay
   * off before {@link tryTake} or {@link available} sees a whole token again.
   */
  spend(key: string, floor: number): void {
    const now = this.options.clock.now();
    const existing = this.buckets.get(key);
    const tokens = existing === undefined ? this.options.capacity : this.refilled(existing, now);
    this.store(key, { tokens: Math.max(Math.min(floor, 0), tokens - 1), at: now });
  }

  /** Keys currently remembered (not yet refilled). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket, now: number): number {
    return Math.min(this.options.capacity, bucket.tokens + Math.max(0, now - bucket.at) / this.options.refillMs);
  }

  private store(key: string, bucket: Bucket): void {
    this.buckets.delete(key);
    if (this.buckets.size >= this.options.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
    this.buckets.set(key, bucket);
  }
}
