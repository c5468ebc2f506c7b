import { systemClock } from '@iot/common/clock';
import { captureLogs, eventually } from '@iot/harness/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, HOUR_MS, LeaseLostError, MINUTE_MS, openDatabase, ROLLUP_LEASE, type RollupStore } from '../../src/db/index.ts';
import { RollupRefresher } from '../../src/rollups/rollup-refresher.ts';
import { expectExactRollups, readingsAt } from './rollup-check.ts';
import { BOOT_A, BOOT_B, manualClock } from './store-suite.ts';

const T0 = Date.UTC(2026, 10, 2, 0, 0, 0);
const LONG = 60_000;

/** A RollupStore whose refreshes are counted, with how many run at once over all spies sharing `shared`. */
function spiedRollups(db: Database, shared: { active: number; maxActive: number }) {
  const spy = {
    calls: 0,
    refresh: async (...args: Parameters<RollupStore['refresh']>) => {
      spy.calls += 1;
      shared.active += 1;
      shared.maxActive = Math.max(shared.maxActive, shared.active);
      try {
        return await db.rollups.refresh(...args);
      } finally {
        shared.active -= 1;
      }
    },
  };
  return spy;
}

/**
 * The rollup refresher and its lease, every dialect. `separateHandles`: whether two refreshers get
 * their own Database (their own connections, as two receiver processes have). SQLite tests share
 * one: better-sqlite3 is synchronous, so two connections in one thread would block each other on
 * the file lock (two processes do not; see the receiver test).
 */
export function describeRefresherSuite(name: string, freshConfig: () => Promise<DatabaseConfig>, separateHandles: boolean): void {
  describe(`rollup refresher on ${name}`, () => {
    const open: Database[] = [];
    const refreshers: RollupRefresher[] = [];
    const openDb = async (config: DatabaseConfig) => {
      const db = await openDatabase(config, { clock: manualClock() });
      open.push(db);
      return db;
    };
    const twoHandles = async (): Promise<[Database, Database]> => {
      const config = await freshConfig();
      const first = await openDb(config);
      return [first, separateHandles ? await openDb(config) : first];
    };
    afterEach(async () => {
      for (const refresher of refreshers.splice(0)) await refresher.stop();
      for (const db of open.splice(0)) await db.close();
    });

    it('drains rollup_dirty on its own, with no web admin, and records the progress the web admin watches', async () => {
      const db = await openDb(await freshConfig());
      const logs = captureLogs();
      // Two hours at one reading per 10 s, for two devices.
      await db.readings.storeReadings('dev-1', readingsAt(BOOT_A, T0, 720, 10_000));
      await db.readings.storeReadings('dev-2', readingsAt(BOOT_B, T0 + 5_000, 720, 10_000));
      expect(await db.rollups.pending()).toBe(240);
      const refresher = new RollupRefresher({ rollups: db.rollups, leases: db.leases, clock: manualClock(T0), logger: logs.logger, owner: 'solo' });
      refreshers.push(refresher);
      expect(await refresher.round()).toEqual({ holding: true, buckets: 240 });
      await expectExactRollups(db);
      const progress = await db.rollups.progress();
      expect(progress.get('dev-1')).toEqual({ generation: 1, latestBucket: T0 + 2 * HOUR_MS - MINUTE_MS });
      expect(progress.get('dev-2')?.generation).toBe(1);
      expect(logs.find('rollup_lease_acquired')).toMatchObject([{ owner: 'solo', took_over_from: null, level: 'info' }]);
      // Nothing dirty: a round only renews the lease.
      expect(await refresher.round()).toEqual({ holding: true, buckets: 0 });
      expect((await db.leases.get(ROLLUP_LEASE))?.owner).toBe('solo');
    });

    it(
      'two refreshers on one database: only the lease holder refreshes, never both at once, and a clean stop hands over at once',
      async () => {
        const [dbA, dbB] = await twoHandles();
        const shared = { active: 0, maxActive: 0 };
        const spies = [spiedRollups(dbA, shared), spiedRollups(dbB, shared)] as const;
        const logs = [captureLogs(), captureLogs()] as const;
        const [a, b] = ([0, 1] as const).map(
          (i) => new RollupRefresher({ rollups: spies[i], leases: [dbA, dbB][i]!.leases, clock: systemClock, logger: logs[i].logger, owner: `r${i}`, periodMs: 10, leaseMs: 60_000 }),
        ) as [RollupRefresher, RollupRefresher];
        refreshers.push(a, b);
        a.start();
        b.start();
        // Batches land while both run, late and re-sent ones included, into minutes of the same hours.
        for (let i = 0; i < 12; i++) {
          const db = i % 2 === 0 ? dbA : dbB;
          await db.readings.storeReadings('dev-1', readingsAt(BOOT_A, T0 + i * 7 * MINUTE_MS, 60, 7_000, 1 + i * 60));
          await db.readings.storeReadings('dev-1', readingsAt(BOOT_B, T0 + (11 - i) * 5 * MINUTE_MS, 30, 10_000, 1 + (11 - i) * 30));
          if (i % 4 === 3) await db.readings.storeReadings('dev-1', readingsAt(BOOT_A, T0, 60, 7_000, 1));
        }
        await eventually(async () => (await dbA.rollups.pending()) === 0, LONG, 'the dirty marks to drain');
        await expectExactRollups(dbA);
        const [holder, standby] = a.holding ? [0, 1] : [1, 0];
        expect([a.holding, b.holding].filter(Boolean)).toHaveLength(1);
        expect(spies[holder]?.calls).toBeGreaterThan(0);
        expect(spies[standby]?.calls).toBe(0);
        expect(shared.maxActive).toBe(1);
        expect(logs[standby]?.find('rollup_lease_standby')).toMatchObject([{ holder: `r${holder}` }]);

        // A clean stop releases the lease: the other takes over without waiting for the expiry.
        await [a, b][holder]?.stop();
        const next = [a, b][standby] as RollupRefresher;
        await eventually(() => next.holding, LONG, 'the standby refresher to take the lease');
        expect(logs[standby]?.find('rollup_lease_acquired')).toMatchObject([{ owner: `r${standby}`, took_over_from: null }]);
        const before = spies[holder]?.calls;
        await dbA.readings.storeReadings('dev-2', readingsAt(BOOT_A, T0, 200, 30_000));
        await eventually(async () => (await dbA.rollups.pending()) === 0, LONG, 'the new holder to drain the marks');
        await expectExactRollups(dbA);
        expect(spies[holder]?.calls).toBe(before);
        expect(shared.maxActive).toBe(1);
      },
      2 * LONG,
    );

    it('takes over the lease of a refresher that died holding it once it expired, and fences the old holder off if it wakes up', async () => {
      const [dbA, dbB] = await twoHandles();
      const clock = manualClock(T0);
      const logsA = captureLogs();
      const logsB = captureLogs();
      const a = new RollupRefresher({ rollups: dbA.rollups, leases: dbA.leases, clock, logger: logsA.logger, owner: 'a', leaseMs: 10_000 });
      const b = new RollupRefresher({ rollups: dbB.rollups, leases: dbB.leases, clock, logger: logsB.logger, owner: 'b', leaseMs: 10_000 });
      await dbA.readings.storeReadings('dev-1', readingsAt(BOOT_A, T0, 100, 1000));
      expect(await a.round()).toMatchObject({ holding: true });

      // From here on `a` is dead: nobody calls it, it released nothing.
      await dbA.readings.storeReadings('dev-1', readingsAt(BOOT_A, T0 + 100_000, 100, 1000, 101));
      const dirty = await dbA.rollups.pending();
      expect(dirty).toBeGreaterThan(0);
      expect(await b.round()).toEqual({ holding: false, buckets: 0 });
      clock.set(T0 + 10_000);
      expect(await b.round()).toEqual({ holding: false, buckets: 0 });
      expect(await dbA.rollups.pending()).toBe(dirty);
      expect(logsB.find('rollup_lease_standby')).toMatchObject([{ holder: 'a', expires_at: T0 + 10_000 }]);

      clock.set(T0 + 10_001);
      expect(await b.round()).toEqual({ holding: true, buckets: dirty });
      expect(logsB.find('rollup_lease_acquired')).toMatchObject([{ owner: 'b', took_over_from: 'a' }]);
      await expectExactRollups(dbA);

      // `a` was only stalled and tries again: its refresh is rolled back, the marks stay for `b`.
      await dbB.readings.storeReadings('dev-1', readingsAt(BOOT_B, T0, 50, 1000));
      const left = await dbA.rollups.pending();
      expect(await a.round()).toEqual({ holding: false, buckets: 0 });
      expect(logsA.find('rollup_lease_lost')).toMatchObject([{ owner: 'a', level: 'warn' }]);
      expect(await dbA.rollups.pending()).toBe(left);
      await expect(dbA.rollups.refresh({ owner: 'a', until: T0 + 60_000 })).rejects.toBeInstanceOf(LeaseLostError);
      expect(await a.round()).toEqual({ holding: false, buckets: 0 });
      expect(await dbA.rollups.pending()).toBe(left);
      expect(await b.round()).toMatchObject({ holding: true, buckets: left });
      await expectExactRollups(dbA);
      expect((await dbA.leases.get(ROLLUP_LEASE))?.owner).toBe('b');
    });

    it('keeps hour rollups exact when refreshes from two handles run at once', async () => {
      const [dbA, dbB] = await twoHandles();
      // Every batch touches a few minutes of the same two hours, so concurrent refreshes would
      // rebuild the same hours from different minutes if they could interleave.
      const stores: Promise<unknown>[] = [];
      const refreshes: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        stores.push((i % 2 === 0 ? dbA : dbB).readings.storeReadings('dev-1', readingsAt(BOOT_A, T0 + i * 6 * MINUTE_MS, 20, 1_000, 1 + i * 20)));
        refreshes.push(dbA.rollups.refresh(), dbB.rollups.refresh());
      }
      await Promise.all([...stores, ...refreshes]);
      while ((await dbA.rollups.pending()) > 0) await Promise.all([dbA.rollups.refresh(), dbB.rollups.refresh()]);
      await expectExactRollups(dbA);
    });
  });
}
