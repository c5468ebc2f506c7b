import { describe, expect, it } from 'vitest';
import { findSuspectedGaps, inferPresence, medianInterval, ORIGINAL_SEND_INTERVAL_MS, statusPresence, type TimePoint } from '../../src/db/cadence.ts';

const T0 = 1_767_000_000_000;

/** Measured times every `intervalMs` from `start`, `count` of them, with a little jitter that a sensor loop has. */
function every(start: number, intervalMs: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i * intervalMs + ((i * 37) % 11));
}

const judged = (times: readonly number[]): TimePoint[] => times.map((at) => ({ at, judged: true }));

describe('cadence of readings without sequence numbers', () => {
  it('infers the interval as the median spacing, unmoved by a gap, a clock step or readings of one millisecond', () => {
    expect(medianInterval([])).toBeNull();
    expect(medianInterval([T0])).toBeNull();
    expect(medianInterval([T0, T0])).toBeNull();
    const times = [...every(T0, 2000, 10), T0 + 3_600_000, T0 + 3_602_000, T0 + 3_602_000];
    expect(medianInterval(times.reverse())).toBeGreaterThanOrEqual(1990);
    expect(medianInterval(times)).toBeLessThanOrEqual(2010);
  });

  it('finds lost readings as gaps with their estimated count: 172, 2558 and a single one', () => {
    const a = every(T0, 2000, 300);
    const b = every((a.at(-1) as number) + 173 * 2000, 2000, 300);
    const c = every((b.at(-1) as number) + 2559 * 2000, 2000, 300);
    const d = every((c.at(-1) as number) + 2 * 2000, 2000, 300);
    const gaps = findSuspectedGaps(judged([...a, ...b, ...c, ...d]));
    // Estimated from the local interval: a few milliseconds of jitter make ±2 over 2558.
    expect(gaps.map((g) => g.estimatedMissing)).toEqual([172, expect.any(Number), 1]);
    expect(Math.abs((gaps[1]?.estimatedMissing ?? 0) - 2558)).toBeLessThanOrEqual(2);
    expect(gaps[0]).toMatchObject({ from: a.at(-1), to: b[0], durationMs: (b[0] as number) - (a.at(-1) as number) });
    expect(gaps[0]?.intervalMs).toBeGreaterThanOrEqual(1990);
    // A factor above 2 lets a single lost reading pass.
    expect(findSuspectedGaps(judged([...a, ...b, ...c, ...d]), 3).map((g) => g.to)).toEqual([b[0], c[0]]);
  });

  it('takes a change of interval (set_config) for no gap, in either direction and right at the newest reading', () => {
    const fast = every(T0, 2000, 100);
    const slow = every((fast.at(-1) as number) + 60_000, 60_000, 100);
    const fastAgain = every((slow.at(-1) as number) + 2000, 2000, 100);
    expect(findSuspectedGaps(judged([...fast, ...slow, ...fastAgain]))).toEqual([]);
    for (let n = 1; n <= 12; n++) expect(findSuspectedGaps(judged([...fast, ...slow.slice(0, n)])), `${n} slow`).toEqual([]);
    // A gap inside the slow stretch is judged against the slow interval.
    const slowWithGap = [...slow.slice(0, 50), ...slow.slice(55)];
    expect(findSuspectedGaps(judged([...fast, ...slowWithGap])).map((g) => g.estimatedMissing)).toEqual([5]);
  });

  it('finds the newest gap once one reading follows it, and judges only the spacings it is asked to', () => {
    const before = every(T0, 2000, 50);
    const resumed = (before.at(-1) as number) + 100 * 2000;
    expect(findSuspectedGaps(judged([...before, resumed]))).toEqual([]);
    expect(findSuspectedGaps(judged([...before, resumed, resumed + 2000])).map((g) => g.estimatedMissing)).toEqual([99]);
    const context = [...before, resumed, resumed + 2000].map((at, i) => ({ at, judged: i < 40 }));
    expect(findSuspectedGaps(context)).toEqual([]);
  });

  it('infers presence of a device without status from its interval, never offline; a status decides for a v1 device', () => {
    const last = T0;
    const within = 3 * 2000 + ORIGINAL_SEND_INTERVAL_MS;
    expect(inferPresence(last, 2000, last + within)).toEqual({ state: 'online', basis: 'inferred', intervalMs: 2000, onlineWithinMs: within, silentForMs: within });
    expect(inferPresence(last, 2000, last + within + 1)).toMatchObject({ state: 'stale', silentForMs: within + 1 });
    expect(inferPresence(last, 2000, last + 86_400_000 * 365)).toMatchObject({ state: 'stale' });
    expect(inferPresence(last, null, last)).toMatchObject({ state: 'unknown', basis: 'inferred' });
    expect(inferPresence(last, 60_000, last + 150_000)).toMatchObject({ state: 'online' });
    expect(statusPresence(false, last, last + 5)).toEqual({ state: 'offline', basis: 'status', intervalMs: null, onlineWithinMs: null, silentForMs: 5 });
    expect(statusPresence(null, last, last).state).toBe('unknown');
    expect(statusPresence(true, last, last + 1e9).state).toBe('online');
  });
});
