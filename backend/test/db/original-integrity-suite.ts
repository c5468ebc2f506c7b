import { describe, expect, it } from 'vitest';
import { ClockSkewTally } from '../../src/db/clock-skew-tally.ts';
import { ONLINE_INTERVALS, ORIGINAL_SEND_INTERVAL_MS, type SuspectedGap } from '../../src/db/cadence.ts';
import type { Database, DatabaseConfig, NewReading, Sql } from '../../src/db/index.ts';
import { REPORT_SCAN_READINGS } from '../../src/db/integrity-store.ts';
import { BOOT_A, freshDatabases, reading } from './store-suite.ts';

export const T0 = 1_767_225_600_000;
const ORIGINAL = 'orig-1';

/** Original-format readings (no boot id, no sequence number) measured at `times`. */
export const originals = (times: readonly number[]): NewReading[] => times.map((t) => ({ bootId: null, seq: null, streamId: `${t}-0`, measuredAt: t, values: { humidity_percent: 40 } }));

/** `count` times every `intervalMs`, the first at `start`. */
const every = (start: number, intervalMs: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i * intervalMs);

/**
 * An original device measuring every 2 s that lost 172, then 2558, then 1 reading, and was then
 * set to measure every 60 s (set_config): 2300 readings, the newest 300 at 60 s.
 */
export function lossyHistory(): { times: number[]; lost: Array<{ after: number; before: number; missing: number }> } {
  const times: number[] = [];
  const lost: Array<{ after: number; before: number; missing: number }> = [];
  let next = T0;
  for (const [count, missingAfter] of [
    [600, 172],
    [500, 2558],
    [500, 1],
    [400, 0],
  ] as const) {
    times.push(...every(next, 2000, count));
    next = (times.at(-1) as number) + (missingAfter + 1) * 2000;
    if (missingAfter > 0) lost.push({ after: times.at(-1) as number, before: next, missing: missingAfter });
  }
  times.push(...every((times.at(-1) as number) + 60_000, 60_000, 300));
  return { times, lost };
}

export async function storeInChunks(db: Database, deviceId: string, readings: readonly NewReading[], receivedAt: number): Promise<void> {
  for (let i = 0; i < readings.length; i += 500) await db.readings.storeReadings(deviceId, readings.slice(i, i + 500), { protocol: 'original', receivedAt });
}

/** Flagged readings per device and boot the slow way, as a plain object. */
async function flaggedByGroupBy(db: Database): Promise<Record<string, Record<string, number>>> {
  const rows = await db.sql.read((sql) => sql.rows('SELECT device_id, boot_id, COUNT(*) AS n FROM readings WHERE clock_skew = 1 GROUP BY device_id, boot_id'));
  const result: Record<string, Record<string, number>> = {};
  for (const row of rows) {
    const device = result[String(row.device_id)] ?? {};
    device[row.boot_id === null ? '' : String(row.boot_id)] = Number(row.n);
    result[String(row.device_id)] = device;
  }
  return result;
}

async function tallied(db: Database, tally: ClockSkewTally): Promise<Record<string, Record<string, number>>> {
  const counts = await db.sql.read((sql: Sql) => tally.counts(sql));
  return Object.fromEntries([...counts].map(([device, boots]) => [device, Object.fromEntries(boots)]));
}

/** Every page of a device's suspected gaps, `readings` at a time, newest first. */
async function allPages(db: Database, deviceId: string, readings: number): Promise<{ gaps: SuspectedGap[]; pages: number; scanned: number }> {
  const gaps: SuspectedGap[] = [];
  let before: { measuredAt: number; id: number } | undefined;
  let pages = 0;
  let scanned = 0;
  for (;;) {
    const page = await db.integrity.suspectedGaps(deviceId, { before, readings });
    pages += 1;
    scanned += page.scanned;
    expect(page.gapCount).toBe(page.gaps.length);
    gaps.push(...page.gaps);
    if (page.next === null) return { gaps, pages, scanned };
    const [measuredAt, id] = page.next.split('.').map(Number) as [number, number];
    before = { measuredAt, id };
  }
}

/** Presence and suspected gaps of devices running the original software (docs/original-devices.md §4), every dialect. */
export function describeOriginalIntegritySuite(name: string, freshConfig: () => Promise<DatabaseConfig>): void {
  describe(`original devices' presence, suspected gaps and clock skew on ${name}`, () => {
    const openFresh = freshDatabases(freshConfig);

    it('reports the readings lost by an original device as suspected gaps, apart from sequence gaps, and not a change of interval', async () => {
      const db = await openFresh();
      const { times, lost } = lossyHistory();
      await storeInChunks(db, ORIGINAL, originals(times), T0);
      await db.readings.storeReadings('dev-v1', [1, 2, 5].map((s) => reading(BOOT_A, s)));

      const report = await db.integrity.report();
      const v1 = report.find((d) => d.id === 'dev-v1');
      expect(v1).toMatchObject({ missing: 2, unsequenced: 0, suspectedGaps: null });
      const original = report.find((d) => d.id === ORIGINAL);
      expect(original).toMatchObject({ readings: 2300, missing: 0, unsequenced: 2300, boots: [] });
      const scan = original?.suspectedGaps;
      // The report reads the newest readings only: all three losses lie among them.
      expect(scan).toMatchObject({ scanned: REPORT_SCAN_READINGS, considered: REPORT_SCAN_READINGS, gapCount: 3, estimatedMissing: 172 + 2558 + 1, to: times.at(-1) });
      expect(scan?.next).not.toBeNull();
      expect(scan?.gaps).toEqual(
        [...lost].reverse().map((l) => ({ from: l.after, to: l.before, durationMs: l.before - l.after, intervalMs: 2000, estimatedMissing: l.missing })),
      );
      // A factor above 2 lets the single lost reading pass.
      expect((await db.integrity.report({ factor: 3 })).find((d) => d.id === ORIGINAL)?.suspectedGaps?.gapCount).toBe(2);
    });

    it('pages through suspected gaps on the measured-time index, each spacing judged once, page edges included', async () => {
      const db = await openFresh();
      const { times, lost } = lossyHistory();
      await storeInChunks(db, ORIGINAL, originals(times), T0);
      const whole = await db.integrity.suspectedGaps(ORIGINAL, { readings: 50_000 });
      expect(whole).toMatchObject({ scanned: 2300, considered: 2300, from: T0, gapCount: 3, next: null });
      expect(whole.gaps.map((g) => g.estimatedMissing)).toEqual([1, 2558, 172]);
      // With 350 a page edge falls right at the one lost reading (the oldest of page 2 is the first after it).
      for (const size of [3, 350, 999]) {
        const paged = await allPages(db, ORIGINAL, size);
        expect(paged.gaps, `pages of ${size}`).toEqual(whole.gaps);
        expect(paged.scanned, `pages of ${size}`).toBe(2300);
        expect(paged.pages, `pages of ${size}`).toBe(Math.ceil(2300 / size) + (2300 % size === 0 ? 1 : 0));
      }
      expect(lost).toHaveLength(3);
    });

    it('counts clock-skew flags per device and boot, and leaves flagged readings out of the gap search', async () => {
      const db = await openFresh();
      const good = every(T0, 2000, 100);
      // Measured by a clock that had not synced (1970 plus uptime), stored flagged.
      const skewed = every(86_400_000, 2000, 30);
      await storeInChunks(db, ORIGINAL, originals([...skewed, ...good]), T0);
      await db.readings.storeReadings('dev-v1', [1, 2, 3, 4].map((s) => reading(BOOT_A, s)));
      await db.sql.transaction(async (sql) => {
        await sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND measured_at < ?', [ORIGINAL, T0]);
        await sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND seq IN (2, 3)', ['dev-v1']);
      });
      const report = await db.integrity.report();
      expect(report.find((d) => d.id === 'dev-v1')).toMatchObject({ clockSkewed: 2, boots: [expect.objectContaining({ bootId: BOOT_A, clockSkewed: 2 })] });
      const original = report.find((d) => d.id === ORIGINAL);
      expect(original).toMatchObject({ clockSkewed: 30, suspectedGaps: { scanned: 130, considered: 100, from: T0, gapCount: 0, next: null } });
      // Unflagged, the 1970 readings would make one gap of decades.
      await db.sql.transaction((sql) => sql.execute('UPDATE readings SET clock_skew = 0 WHERE device_id = ?', [ORIGINAL]));
      expect((await db.integrity.suspectedGaps(ORIGINAL)).gapCount).toBe(1);
    });

    it('tallies the clock-skew flags by primary-key ranges, chunk by chunk, then only what was stored since and the tail', async () => {
      const db = await openFresh();
      await db.readings.storeReadings(ORIGINAL, originals(every(T0, 2000, 50)), { protocol: 'original' });
      await db.readings.storeReadings('dev-v1', Array.from({ length: 30 }, (_, i) => reading(BOOT_A, i + 1)));
      const flag = (where: string, params: unknown[]) => db.sql.transaction((sql) => sql.execute(`UPDATE readings SET clock_skew = 1 WHERE ${where}`, params));
      await flag('device_id = ? AND measured_at < ?', [ORIGINAL, T0 + 40_000]);
      await flag('device_id = ? AND seq <= ?', ['dev-v1', 10]);
      const tally = new ClockSkewTally({ chunkIds: 7, tailIds: 5 });
      expect(await tallied(db, tally)).toEqual({ [ORIGINAL]: { '': 20 }, 'dev-v1': { [BOOT_A]: 10 } });
      expect(await tallied(db, tally)).toEqual(await flaggedByGroupBy(db));
      // Stored since, flagged as the receiver stores them: counted on the next call.
      await db.readings.storeReadings(ORIGINAL, originals(every(T0 + 100_000, 2000, 20)), { protocol: 'original' });
      await flag('device_id = ? AND measured_at >= ?', [ORIGINAL, T0 + 130_000]);
      expect(await tallied(db, tally)).toEqual({ [ORIGINAL]: { '': 20 + 5 }, 'dev-v1': { [BOOT_A]: 10 } });
      // A flag set by hand on a reading counted long ago shows after a restart (a new tally), not before.
      await flag('device_id = ? AND seq = ?', ['dev-v1', 11]);
      expect((await tallied(db, tally))['dev-v1']).toEqual({ [BOOT_A]: 10 });
      expect(await tallied(db, new ClockSkewTally())).toEqual(await flaggedByGroupBy(db));
    });

    it('infers the presence of an original device from its last message and its interval, and never says offline', async () => {
      const db = await openFresh();
      const { times } = lossyHistory();
      const lastSeen = T0 + 10_000_000;
      await storeInChunks(db, ORIGINAL, originals(times), lastSeen);
      const device = await db.devices.getDevice(ORIGINAL);
      if (device === undefined) throw new Error('no device');
      // The newest readings came every 60 s since the set_config.
      const within = ONLINE_INTERVALS * 60_000 + ORIGINAL_SEND_INTERVAL_MS;
      expect(await db.devices.presence(device, lastSeen + within)).toEqual({ state: 'online', basis: 'inferred', intervalMs: 60_000, onlineWithinMs: within, silentForMs: within });
      expect(await db.devices.presence(device, lastSeen + within + 1)).toMatchObject({ state: 'stale', silentForMs: within + 1 });
      expect(await db.devices.presence(device, lastSeen + 365 * 86_400_000)).toMatchObject({ state: 'stale' });

      await db.readings.storeReadings('orig-new', originals([T0]), { protocol: 'original', receivedAt: T0 });
      const newcomer = await db.devices.getDevice('orig-new');
      expect(newcomer && (await db.devices.presence(newcomer, T0))).toMatchObject({ state: 'unknown', basis: 'inferred', intervalMs: null });

      await db.readings.storeReadings('dev-v1', [reading(BOOT_A, 1)], { protocol: 'v1', receivedAt: T0 });
      const v1 = await db.devices.getDevice('dev-v1');
      expect(v1 && (await db.devices.presence(v1, T0 + 1e9))).toMatchObject({ state: 'unknown', basis: 'status' });
      await db.devices.recordStatus('dev-v1', { online: false }, T0 + 1);
      const v1Offline = await db.devices.getDevice('dev-v1');
      expect(v1Offline && (await db.devices.presence(v1Offline, T0 + 2))).toMatchObject({ state: 'offline', basis: 'status' });
    });
  });
}
