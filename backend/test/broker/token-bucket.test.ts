import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/broker/token-bucket.ts';

/** Time moves only when the test says so. */
function fakeClock() {
  let now = 1_000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('TokenBuckets', () => {
  it('gives each key a burst of `capacity`, then one more per `refillMs`', () => {
    const clock = fakeClock();
    const buckets = new TokenBuckets({ capacity: 3, refillMs: 1_000, maxKeys: 10, clock });
    expect([buckets.tryTake('a'), buckets.tryTake('a'), buckets.tryTake('a'), buckets.tryTake('a')]).toEqual([true, true, true, false]);
    expect(buckets.tryTake('b')).toBe(true); // keys are independent
    clock.advance(999);
    expect(buckets.tryTake('a')).toBe(false);
    clock.advance(1);
    expect(buckets.tryTake('a')).toBe(true);
    expect(buckets.tryTake('a')).toBe(false);
    clock.advance(60_000);
    expect(buckets.available('a')).toBe(3); // never beyond capacity
  });

  it('spends into debt with spend(), down to the floor, which the refill pays off first', () => {
    const clock = fakeClock();
    const buckets = new TokenBuckets({ capacity: 2, refillMs: 1_000, maxKeys: 10, clock });
    for (let i = 0; i < 6; i++) buckets.spend('a', -3);
    expect(buckets.available('a')).toBe(-3);
    clock.advance(3_000);
    expect(buckets.tryTake('a')).toBe(false);
    clock.advance(1_000);
    expect(buckets.tryTake('a')).toBe(true);
  });

  it('remembers at most maxKeys, forgetting the least recently used (as if full)', () => {
    const buckets = new TokenBuckets({ capacity: 1, refillMs: 1_000, maxKeys: 2, clock: fakeClock() });
    buckets.tryTake('a');
    buckets.tryTake('b');
    buckets.tryTake('a'); // refused, but touches nothing: 'a' stays the oldest
    buckets.tryTake('c');
    expect(buckets.size).toBe(2);
    expect(buckets.available('a')).toBe(1);
    expect(buckets.available('b')).toBe(0);
    expect(buckets.available('c')).toBe(0);
  });

  it('does not refill when the clock goes backwards', () => {
    const clock = fakeClock();
    const buckets = new TokenBuckets({ capacity: 1, refillMs: 1_000, maxKeys: 10, clock });
    buckets.tryTake('a');
    clock.advance(-5_000);
    expect(buckets.tryTake('a')).toBe(false);
  });
});
