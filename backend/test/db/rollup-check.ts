import { expect } from 'vitest';
import { type Database, HOUR_MS, MINUTE_MS, type NewReading } from '../../src/db/index.ts';

interface Aggregate {
  count: number;
  min: number;
  max: number;
  sum: number;
}

function add(into: Map<string, Aggregate>, key: string, value: number): void {
  const a = into.get(key);
  if (a === undefined) into.set(key, { count: 1, min: value, max: value, sum: value });
  else into.set(key, { count: a.count + 1, min: Math.min(a.min, value), max: Math.max(a.max, value), sum: a.sum + value });
}

/**
 * Checks every stored minute and hour rollup against a recomputation from all raw readings: the
 * same buckets, and in each the exact count, min and max (sums may differ in the last bits, as
 * floating-point additions in another order do). Call it once no bucket is marked dirty.
 */
export async function expectExactRollups(db: Database): Promise<void> {
  expect(await db.rollups.pending()).toBe(0);
  const [readings, rollups] = await db.sql.read(async (sql) => [
    await sql.rows('SELECT device_id, measured_at, values_json FROM readings'),
    await sql.rows('SELECT device_id, resolution, bucket_start, metric, count, min_value, max_value, sum_value FROM reading_rollups'),
  ]);
  const expected = new Map<string, Aggregate>();
  for (const row of readings) {
    const at = Number(row.measured_at);
    for (const [metric, value] of Object.entries(JSON.parse(String(row.values_json)) as Record<string, number>)) {
      add(expected, `${String(row.device_id)}|60|${Math.floor(at / MINUTE_MS) * MINUTE_MS}|${metric}`, value);
      add(expected, `${String(row.device_id)}|3600|${Math.floor(at / HOUR_MS) * HOUR_MS}|${metric}`, value);
    }
  }
  const actual = new Map<string, Aggregate>(
    rollups.map((r) => [
      `${String(r.device_id)}|${Number(r.resolution)}|${Number(r.bucket_start)}|${String(r.metric)}`,
      { count: Number(r.count), min: Number(r.min_value), max: Number(r.max_value), sum: Number(r.sum_value) },
    ]),
  );
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, want] of expected) {
    const got = actual.get(key) as Aggregate;
    expect({ count: got.count, min: got.min, max: got.max }, key).toEqual({ count: want.count, min: want.min, max: want.max });
    expect(Math.abs(got.sum - want.sum), key).toBeLessThan(1e-6 * Math.max(1, Math.abs(want.sum)));
  }
}

/**
 * `count` readings of `boot` from `start`, one per `stepMs`, starting at sequence `firstSeq`;
 * values are small integers so sums are exact.
 */
export function readingsAt(boot: string, start: number, count: number, stepMs: number, firstSeq = 1): NewReading[] {
  return Array.from({ length: count }, (_, i) => ({
    bootId: boot,
    seq: firstSeq + i,
    streamId: `${start + i * stepMs}-${firstSeq + i}`,
    measuredAt: start + i * stepMs,
    values: { temperature_celsius: (firstSeq + i) % 50, humidity_percent: 40 + ((firstSeq + i) % 7) },
  }));
}
