import { describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, type DeviceIntegrity, MIGRATIONS } from '../../src/db/index.ts';
import { describeOriginalIntegritySuite } from './original-integrity-suite.ts';
import { BOOT_A, BOOT_B, freshDatabases, reading } from './store-suite.ts';

const original = (n: number) => ({ bootId: null, seq: null, streamId: `1699999999999-${n}`, measuredAt: 1_699_999_999_999, values: { humidity_percent: 40 } });

/** The integrity figures computed the slow way, straight from the readings, to hold the counters against. */
async function fromReadings(db: Database, deviceId: string): Promise<{ readings: number; boots: Record<string, { readings: number; minSeq: number | null; maxSeq: number | null }> }> {
  return db.sql.read(async (sql) => {
    const total = await sql.rows('SELECT COUNT(*) AS n FROM readings WHERE device_id = ?', [deviceId]);
    const boots = await sql.rows(
      'SELECT boot_id, COUNT(seq) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM readings WHERE device_id = ? AND boot_id IS NOT NULL GROUP BY boot_id',
      [deviceId],
    );
    return {
      readings: Number(total[0]?.n),
      boots: Object.fromEntries(boots.map((b) => [String(b.boot_id), { readings: Number(b.n), minSeq: b.lo === null ? null : Number(b.lo), maxSeq: b.hi === null ? null : Number(b.hi) }])),
    };
  });
}

async function expectCountersMatchReadings(db: Database, report: readonly DeviceIntegrity[]): Promise<void> {
  for (const device of report) {
    const truth = await fromReadings(db, device.id);
    expect(device.readings, device.id).toBe(truth.readings);
    for (const boot of device.boots) {
      expect({ readings: boot.readings, minSeq: boot.minSeq, maxSeq: boot.maxSeq }, `${device.id}/${boot.bootId}`).toEqual(
        truth.boots[boot.bootId] ?? { readings: 0, minSeq: null, maxSeq: null },
      );
    }
  }
}

/** Integrity counters kept at write time, every dialect. */
export function describeIntegritySuite(name: string, freshConfig: () => Promise<DatabaseConfig>): void {
  describeOriginalIntegritySuite(name, freshConfig);
  describe(`integrity counters on ${name}`, () => {
    const openFresh = freshDatabases(freshConfig);

    it('counts what was really stored, per device and boot, through duplicates, conflicts and concurrent overlapping batches', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', [3, 4, 5, 8].map((s) => reading(BOOT_A, s)), { protocol: 'v1', receivedAt: 1 });
      // Re-sent with new ones, one conflicting copy, and two boots in one batch.
      await db.readings.storeReadings('dev-1', [reading(BOOT_A, 4), reading(BOOT_A, 5, { temperature_celsius: 99 }), reading(BOOT_A, 9), reading(BOOT_B, 2), reading(BOOT_B, 1)], {
        protocol: 'v1',
        receivedAt: 2,
      });
      // Overlapping batches at once: the counters must add only the rows each really inserted.
      const overlapping = [0, 5, 10].map((offset) => Array.from({ length: 10 }, (_, i) => reading(BOOT_B, offset + i + 1)));
      await Promise.all(overlapping.map((batch) => db.readings.storeReadings('dev-1', batch)));
      await db.readings.storeReadings('dev-1', [original(1), original(2), original(1)], { protocol: 'original' });
      await db.readings.storeReadings('dev-1', [], { protocol: 'v1', shutdowns: [{ bootId: BOOT_A, seq: 12, at: 1 }] });
      await db.readings.storeReadings('dev-2', [reading(BOOT_A, 1)]);

      const report = await db.integrity.report();
      expect(report).toEqual([
        {
          id: 'dev-1',
          name: null,
          readings: 5 + 20 + 2,
          // A conflict counts as a duplicate; 30 overlapping rows held 18 new ones.
          duplicatesAbsorbed: 2 + 12 + 1,
          // BOOT_A: 1, 2, 6, 7, 10, 11, 12 of 1..12; BOOT_B: none of 1..20.
          missing: 7,
          unsequenced: 2,
          clockSkewed: 0,
          // Two original readings of one millisecond: nothing to judge a spacing by.
          suspectedGaps: expect.objectContaining({ scanned: 27, considered: 2, intervalMs: null, gapCount: 0, gaps: [], next: null }),
          boots: [
            expect.objectContaining({ bootId: BOOT_A, readings: 5, minSeq: 3, maxSeq: 9, shutdownSeq: 12, missingCount: 7, clockSkewed: 0 }),
            expect.objectContaining({ bootId: BOOT_B, readings: 20, minSeq: 1, maxSeq: 20, shutdownSeq: null, missingCount: 0, clockSkewed: 0 }),
          ],
        },
        {
          id: 'dev-2',
          name: null,
          readings: 1,
          duplicatesAbsorbed: 0,
          missing: 0,
          unsequenced: 0,
          clockSkewed: 0,
          suspectedGaps: null,
          boots: [expect.objectContaining({ bootId: BOOT_A, readings: 1, missingCount: 0 })],
        },
      ]);
      await expectCountersMatchReadings(db, report);
      expect(await db.integrity.totals()).toEqual({ devices: 2, readings: 28 });
    });

    it('lists the missing ranges of one boot on request, bounded, with the exact count beside them', async () => {
      const db = await openFresh();
      // Every third sequence number of 1..30 lost: ten ranges, and three more up to the shutdown.
      const everyThirdLost = Array.from({ length: 30 }, (_, i) => i + 1).filter((s) => s % 3 !== 0);
      await db.readings.storeReadings('dev-1', everyThirdLost.map((s) => reading(BOOT_A, s)), { protocol: 'v1', receivedAt: 1 });
      await db.readings.storeReadings('dev-1', [1, 2, 3].map((s) => reading(BOOT_B, s)), { protocol: 'v1', receivedAt: 2, shutdowns: [{ bootId: BOOT_B, seq: 6, at: 1 }] });
      const [boot] = await db.integrity.gaps('dev-1', { bootId: BOOT_A, limit: 4 });
      expect(boot).toMatchObject({ bootId: BOOT_A, readings: 20, maxSeq: 29, missingCount: 9 });
      expect(boot?.missing).toEqual([3, 6, 9, 12].map((s) => ({ from: s, to: s })));
      expect((await db.integrity.gaps('dev-1', { bootId: BOOT_B }))[0]?.missing).toEqual([{ from: 4, to: 6 }]);
      expect(await db.integrity.gaps('dev-1', { bootId: 'feedfeedfeedfeed' })).toEqual([]);
      expect((await db.integrity.gaps('dev-1')).map((b) => [b.bootId, b.missing.length])).toEqual([
        [BOOT_A, 9],
        [BOOT_B, 1],
      ]);
    });

    it('backfills the counters of readings stored before the migration', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', [1, 2, 4, 7].map((s) => reading(BOOT_A, s)));
      await db.readings.storeReadings('dev-1', [reading(BOOT_A, 2), reading(BOOT_B, 5), original(1)], { protocol: 'v1', shutdowns: [{ bootId: BOOT_B, seq: 6, at: 1 }] });
      const expected = await db.integrity.report();

      // Back to the schema before the counters (undoing the later migrations too), with the
      // readings in it, and forward again.
      const names = MIGRATIONS.map((m) => m.name);
      const fromCounters = names.slice(names.indexOf('IntegrityCounters1767571200000'));
      for (const _ of fromCounters) await db.dataSource.undoLastMigration({ transaction: 'each' });
      const runner = db.dataSource.createQueryRunner();
      expect(await runner.hasColumn('devices', 'readings_stored')).toBe(false);
      await runner.release();
      expect(await db.runMigrations()).toEqual(fromCounters);
      const report = await db.integrity.report();
      expect(report).toEqual(expected);
      expect(report[0]).toMatchObject({ readings: 6, duplicatesAbsorbed: 1, missing: 3 + 5 });
      await expectCountersMatchReadings(db, report);
    });
  });
}
