import { describe, expect, it } from 'vitest';
import { LoginThrottle, type ThrottleDecision } from '../../src/broker/login-throttle.ts';

function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function throttle(clock = fakeClock()) {
  return new LoginThrottle({ burst: 3, refillMs: 10_000, clock, isKnownUser: (name) => name.startsWith('dev-') });
}

/** Begins and fails `n` attempts; returns whether each was admitted. */
function failures(t: LoginThrottle, n: number, username: string, address: string): boolean[] {
  return Array.from({ length: n }, () => {
    const decision = t.begin(username, address);
    if (decision.ok) t.failed(decision.ticket);
    return decision.ok;
  });
}

const refusal = (d: ThrottleDecision) => (d.ok ? 'admitted' : d.reason);

describe('LoginThrottle', () => {
  it('admits `burst` failures per address, then refuses until a token refills', () => {
    const clock = fakeClock();
    const t = throttle(clock);
    expect(failures(t, 4, 'dev-1', '192.0.2.1')).toEqual([true, true, true, false]);
    // Whatever the username, and even with the right password (which it cannot know yet).
    expect(refusal(t.begin('dev-2', '192.0.2.1'))).toBe('address_throttled');
    expect(refusal(t.begin('nobody', '::ffff:192.0.2.1'))).toBe('address_throttled');
    expect(refusal(t.begin('dev-2', '192.0.2.2'))).toBe('admitted');
    clock.advance(10_000);
    expect(failures(t, 2, 'dev-3', '192.0.2.1')).toEqual([true, false]);
  });

  it('admits at most maxInFlightPerAddress open logins from one address, and charges every failure', () => {
    const clock = fakeClock();
    const t = new LoginThrottle({ burst: 3, refillMs: 10_000, maxInFlightPerAddress: 5, clock, isKnownUser: () => false });
    const wave = Array.from({ length: 7 }, (_, i) => t.begin(`guess-${i}`, '192.0.2.1'));
    expect(wave.map(refusal)).toEqual(['admitted', 'admitted', 'admitted', 'admitted', 'admitted', 'too_many_at_once', 'too_many_at_once']);
    for (const d of wave) if (d.ok) t.failed(d.ticket);
    // Five failures against a burst of three: two in debt, so three refills pass before the next try.
    clock.advance(20_000);
    expect(refusal(t.begin('guess-x', '192.0.2.1'))).toBe('address_throttled');
    clock.advance(10_000);
    expect(refusal(t.begin('guess-y', '192.0.2.1'))).toBe('admitted');
  });

  it('spends nothing on success or when abandoned', () => {
    const t = throttle();
    for (let i = 0; i < 10; i++) {
      const d = t.begin('dev-1', '192.0.2.1');
      expect(d.ok).toBe(true);
      if (d.ok) (i % 2 === 0 ? t.succeeded(d.ticket) : t.abandoned(d.ticket));
    }
    expect(failures(t, 4, 'dev-2', '192.0.2.1')).toEqual([true, true, true, false]);
  });

  it('lets a NAT full of devices log in at once, up to the in-flight limit', () => {
    const t = throttle();
    const logins = Array.from({ length: 20 }, (_, i) => t.begin(`dev-${i}`, '203.0.113.50'));
    expect(logins.every((d) => d.ok)).toBe(true);
    for (const d of logins) if (d.ok) t.succeeded(d.ticket);
    expect(refusal(t.begin('dev-99', '203.0.113.50'))).toBe('admitted');
  });

  it('limits a username across addresses, except from an address it logged in from before', () => {
    const t = throttle();
    const home = t.begin('dev-1', '198.51.100.7');
    if (home.ok) t.succeeded(home.ticket);
    // A distributed guesser: one failure each from many addresses.
    expect(['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'].map((a) => failures(t, 1, 'dev-1', a)[0])).toEqual([true, true, true, false]);
    expect(refusal(t.begin('dev-1', '203.0.113.9'))).toBe('username_throttled');
    // The device itself, from where it connected before, is not locked out.
    const again = t.begin('dev-1', '198.51.100.7');
    expect(again).toMatchObject({ ok: true, ticket: { trusted: true } });
  });

  it('throttles unknown usernames by name too, so responses do not tell which names exist', () => {
    const t = throttle();
    const addresses = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];
    expect(addresses.map((a) => failures(t, 1, 'no-such-user', a)[0])).toEqual([true, true, true, false]);
    expect(refusal(t.begin('x'.repeat(60_000), '203.0.113.5'))).toBe('admitted');
  });

  it('counts refusals in a row per address, for sampled logging', () => {
    const t = throttle();
    failures(t, 3, 'dev-1', '192.0.2.1');
    const counts = Array.from({ length: 3 }, () => t.begin('dev-1', '192.0.2.1')).map((d) => (d.ok ? 0 : d.refusedInARow));
    expect(counts).toEqual([1, 2, 3]);
  });
});
