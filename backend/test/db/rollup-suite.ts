import { describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, HOUR_MS, MINUTE_MS, type NewReading, type SeriesPoint } from '../../src/db/index.ts';
import { BOOT_A, BOOT_B, freshDatabases } from './store-suite.ts';

const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);

/** One reading per `stepMs` from `start`, temperature = its index, humidity = 50. */
function series(boot: string, count: number, start: number, stepMs: number): NewReading[] {
  return Array.from({ length: count }, (_, i) => ({
    bootId: boot,
    seq: i + 1,
    streamId: `${start + i * stepMs}-0`,
    measuredAt: start + i * stepMs,
    values: { temperature_celsius: i, humidity_percent: 50 },
  }));
}

async function refreshAll(db: Database): Promise<void> {
  for (let round = 0; round < 1000 && (await db.rollups.pending()) > 0; round++) await db.rollups.refresh();
  expect(await db.rollups.pending()).toBe(0);
}

const totalCount = (points: readonly SeriesPoint[]) => points.reduce((n, p) => n + p[4], 0);

/** Rollups and series queries every dialect must pass. */
export function describeRollupSuite(name: string, freshConfig: () => Promise<DatabaseConfig>): void {
  describe(`reading rollups on ${name}`, () => {
    const openFresh = freshDatabases(freshConfig);

    it('serves a short range raw, straight from the readings', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', series(BOOT_A, 10, T0, 1000));
      const result = await db.rollups.series('dev-1', T0, T0 + 60_000, 500);
      expect(result.resolution).toBe('raw');
      expect(result.metrics.temperature_celsius?.map((p) => p[2])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('downsamples a long range from minute and hour rollups with exact count, min, mean and max', async () => {
      const db = await openFresh();
      // 6 hours at one reading per 10 s: 2160 readings, more than a raw chart shows.
      const readings = series(BOOT_A, 2160, T0, 10_000);
      for (let i = 0; i < readings.length; i += 500) await db.readings.storeReadings('dev-1', readings.slice(i, i + 500));
      await refreshAll(db);

      const byMinute = await db.rollups.series('dev-1', T0, T0 + 6 * HOUR_MS - 1, 360);
      expect(byMinute.resolution).toBe('minute');
      const minutes = byMinute.metrics.temperature_celsius ?? [];
      expect(minutes).toHaveLength(360);
      expect(totalCount(minutes)).toBe(2160);
      expect(minutes[0]).toEqual([T0, 0, 2.5, 5, 6]);
      expect(minutes[359]).toEqual([T0 + 359 * MINUTE_MS, 2154, 2156.5, 2159, 6]);

      const merged = await db.rollups.series('dev-1', T0, T0 + 6 * HOUR_MS - 1, 6);
      expect(merged.bucketMs).toBe(HOUR_MS);
      expect(merged.metrics.temperature_celsius?.[1]).toEqual([T0 + HOUR_MS, 360, 539.5, 719, 360]);
      expect(merged.metrics.humidity_percent?.every((p) => p[1] === 50 && p[3] === 50)).toBe(true);

      const byHour = await db.rollups.series('dev-1', T0 - 10 * 24 * HOUR_MS, T0 + 6 * HOUR_MS, 100);
      expect(byHour.resolution).toBe('hour');
      expect(totalCount(byHour.metrics.temperature_celsius ?? [])).toBe(2160);
      expect(Math.max(...(byHour.metrics.temperature_celsius ?? []).map((p) => p[3]))).toBe(2159);
    });

    it('counts a re-sent batch once and remembers the duplicates it absorbed', async () => {
      const db = await openFresh();
      const readings = series(BOOT_A, 3000, T0, 1000);
      await db.readings.storeReadings('dev-1', readings.slice(0, 2000));
      await refreshAll(db);
      // The uplink re-sends after a lost ack: half old, half new.
      await db.readings.storeReadings('dev-1', readings.slice(1000, 3000));
      await refreshAll(db);
      const result = await db.rollups.series('dev-1', T0, T0 + 3000 * 1000, 100);
      expect(result.resolution).toBe('minute');
      expect(totalCount(result.metrics.temperature_celsius ?? [])).toBe(3000);
      expect((await db.devices.getDevice('dev-1'))?.duplicatesAbsorbed).toBe(1000);
    });

    it('keeps a bucket marked when a batch lands in it while it is recomputed, and catches up', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', series(BOOT_A, 2100, T0, 1000));
      await db.rollups.refresh();
      // A late batch of another boot into minutes already rolled up re-marks them.
      await db.readings.storeReadings('dev-1', series(BOOT_B, 120, T0, 500));
      expect(await db.rollups.pending()).toBeGreaterThan(0);
      await refreshAll(db);
      const result = await db.rollups.series('dev-1', T0, T0 + 2100 * 1000, 10);
      expect(totalCount(result.metrics.temperature_celsius ?? [])).toBe(2220);
    });

    it('reports which devices a refresh changed, and nothing for a pure duplicate batch', async () => {
      const db = await openFresh();
      const readings = series(BOOT_A, 100, T0, 1000);
      await db.readings.storeReadings('dev-1', readings);
      await db.readings.storeReadings('dev-2', readings);
      const first = await db.rollups.refresh();
      expect([...first.devices.keys()].sort()).toEqual(['dev-1', 'dev-2']);
      expect(first.devices.get('dev-1')).toBe(T0 + MINUTE_MS);
      await db.readings.storeReadings('dev-1', readings);
      expect(await db.rollups.pending()).toBe(0);
      expect((await db.rollups.refresh()).devices.size).toBe(0);
    });
  });
}
