import type { Clock } from '@iot/common/clock';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, MIGRATIONS, type NewReading, openDatabase } from '../../src/db/index.ts';

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): Clock & { set(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async () => {},
    set: (ms) => {
      now = ms;
    },
  };
}

export const BOOT_A = 'a1b2c3d4e5f60718';
export const BOOT_B = '0f1e2d3c4b5a6978';

/** A v1 reading of `boot` with sequence `seq`; its values and time derive from seq, so tests can predict them. */
export function reading(boot: string, seq: number, values: Record<string, number> = { temperature_celsius: 20 + seq / 10 }): NewReading {
  return { bootId: boot, seq, streamId: `${1_700_000_000_000 + seq}-0`, measuredAt: 1_700_000_000_000 + seq * 2000, values };
}

/**
 * The store tests every dialect must pass. `freshConfig` gives a config for an empty database
 * each time it is called (a new SQLite file, a new MariaDB database).
 */
/** Opens a fresh database (with its own manual clock) per call, closed after the test that opened it. */
export function freshDatabases(freshConfig: () => Promise<DatabaseConfig>): () => Promise<Database> {
  const open: Database[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
  });
  return async () => {
    const db = await openDatabase(await freshConfig(), { clock: manualClock() });
    open.push(db);
    return db;
  };
}

export function describeStoreSuite(name: string, freshConfig: () => Promise<DatabaseConfig>): void {
  describe(`database stores on ${name}`, () => {
    const open: Database[] = [];
    const clock = manualClock();
    const openFresh = async (config?: DatabaseConfig) => {
      const db = await openDatabase(config ?? (await freshConfig()), { clock });
      open.push(db);
      return db;
    };
    afterEach(async () => {
      for (const db of open.splice(0)) await db.close();
    });

    it('creates the schema on an empty database, agrees with the entities, and migrates nothing on a second start', async () => {
      const config = await freshConfig();
      const db = await openFresh(config);
      const runner = db.dataSource.createQueryRunner();
      for (const table of ['devices', 'readings', 'boots', 'commands', 'desired_configs', 'reported_configs', 'rejected_messages']) {
        expect(await runner.hasTable(table), table).toBe(true);
      }
      await runner.release();
      // TypeORM's schema builder compares the entity schemas with the live tables.
      const pending = await db.dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      await db.close();
      open.splice(open.indexOf(db), 1);

      const again = await openFresh(config);
      expect(await again.runMigrations()).toEqual([]);
      const applied = (await again.dataSource.query('SELECT name FROM migrations')) as { name: string }[];
      expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
    });

    it('stores a batch once; the same batch again is all duplicates', async () => {
      const db = await openFresh();
      const batch = [1, 2, 3, 4, 5].map((seq) => reading(BOOT_A, seq));
      expect(await db.readings.storeReadings('dev-1', batch, { protocol: 'v1' })).toEqual({ stored: 5, duplicates: 0, conflicts: [] });
      expect(await db.readings.storeReadings('dev-1', batch, { protocol: 'v1' })).toEqual({ stored: 0, duplicates: 5, conflicts: [] });
      expect(await db.readings.countReadings('dev-1')).toBe(5);
      expect(await db.readings.readingKeys('dev-1')).toEqual([1, 2, 3, 4, 5].map((s) => `${BOOT_A}:${s}`));
      const [first] = await db.readings.listReadings('dev-1', { limit: 1 });
      expect(first).toMatchObject({ bootId: BOOT_A, seq: 1, streamId: '1700000000001-0', measuredAt: 1_700_000_002_000, values: { temperature_celsius: 20.1 } });
      expect(typeof first?.measuredAt).toBe('number');
    });

    it('counts a mixed batch: new readings stored, known ones duplicates, per device', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', [reading(BOOT_A, 1), reading(BOOT_A, 2)]);
      // The same identity on another device is another reading.
      expect((await db.readings.storeReadings('dev-2', [reading(BOOT_A, 1)])).stored).toBe(1);
      const mixed = [reading(BOOT_A, 1), reading(BOOT_A, 2), reading(BOOT_A, 3), reading(BOOT_B, 1), reading(BOOT_B, 2)];
      expect(await db.readings.storeReadings('dev-1', mixed)).toEqual({ stored: 3, duplicates: 2, conflicts: [] });
      expect(await db.readings.countReadings('dev-1')).toBe(5);
      expect(await db.readings.countReadings()).toBe(6);
    });

    it('stores overlapping batches that arrive concurrently exactly once', async () => {
      const db = await openFresh();
      // Five batches of 40 readings, each overlapping the next by half: 120 distinct readings.
      const batches = [0, 20, 40, 60, 80].map((offset) => Array.from({ length: 40 }, (_, i) => reading(BOOT_A, offset + i + 1)));
      const results = await Promise.all(batches.map((batch) => db.readings.storeReadings('dev-1', batch)));
      expect(results.reduce((sum, r) => sum + r.stored, 0)).toBe(120);
      expect(results.reduce((sum, r) => sum + r.duplicates, 0)).toBe(80);
      expect(results.flatMap((r) => r.conflicts)).toEqual([]);
      expect(await db.readings.countReadings('dev-1')).toBe(120);
      expect(await db.readings.gaps('dev-1')).toMatchObject([{ bootId: BOOT_A, maxSeq: 120, missing: [] }]);
    });

    it('reports a duplicate whose values or time differ as a conflict and keeps the stored reading', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', [reading(BOOT_A, 1, { temperature_celsius: 21.5 }), reading(BOOT_A, 2)]);
      const other = { ...reading(BOOT_A, 1, { temperature_celsius: 99 }) };
      const laterTime = { ...reading(BOOT_A, 2), measuredAt: 1 };
      const result = await db.readings.storeReadings('dev-1', [other, laterTime, reading(BOOT_A, 3)]);
      expect(result.stored).toBe(1);
      expect(result.duplicates).toBe(2);
      expect(result.conflicts).toEqual([
        { key: `${BOOT_A}:1`, stored: { measuredAt: 1_700_000_002_000, values: { temperature_celsius: 21.5 } }, received: { measuredAt: 1_700_000_002_000, values: { temperature_celsius: 99 } } },
        { key: `${BOOT_A}:2`, stored: { measuredAt: 1_700_000_004_000, values: { temperature_celsius: 20.2 } }, received: { measuredAt: 1, values: { temperature_celsius: 20.2 } } },
      ]);
      const stored = await db.readings.listReadings('dev-1');
      expect(stored[0]?.values).toEqual({ temperature_celsius: 21.5 });
    });

    it('keys original readings without identity by stream id and stores a 2500-reading batch in chunks', async () => {
      const db = await openFresh();
      const original = { bootId: null, seq: null, streamId: '1699999999999-3', measuredAt: 1_699_999_999_999, values: { humidity_percent: 40 } };
      expect((await db.readings.storeReadings('old-1', [original], { protocol: 'original', deviceType: 'raspberrypi4-64', appId: '7' })).stored).toBe(1);
      expect(await db.readings.readingKeys('old-1')).toEqual(['s:1699999999999-3']);
      const big = Array.from({ length: 2500 }, (_, i) => reading(BOOT_B, i + 1));
      expect(await db.readings.storeReadings('big', big)).toEqual({ stored: 2500, duplicates: 0, conflicts: [] });
      expect(await db.readings.storeReadings('big', big)).toEqual({ stored: 0, duplicates: 2500, conflicts: [] });
      expect(await db.readings.countReadings('big')).toBe(2500);
    });

    it('keeps device metadata and the latest last_seen_at across batches', async () => {
      const db = await openFresh();
      await db.readings.storeReadings('dev-1', [reading(BOOT_A, 1)], { protocol: 'original', deviceType: 'raspberrypi4-64', appId: '42', appName: 'iot', receivedAt: 5000 });
      await db.readings.storeReadings('dev-1', [reading(BOOT_A, 2)], { protocol: 'v1', receivedAt: 4000 });
      expect(await db.devices.getDevice('dev-1')).toEqual({
        id: 'dev-1',
        protocol: 'v1',
        deviceType: 'raspberrypi4-64',
        appId: '42',
        appName: 'iot',
        firstSeenAt: 5000,
        lastSeenAt: 5000,
        online: null,
        status: null,
        statusAt: null,
        name: null,
        duplicatesAbsorbed: 0,
      });
      expect((await db.readings.listReadings('dev-1')).map((r) => r.receivedAt)).toEqual([5000, 4000]);
    });

    it('reports gaps per boot up to the shutdown marker, and a boot without one as such', async () => {
      const db = await openFresh();
      clock.set(1_000);
      await db.readings.storeReadings('dev-1', [1, 2, 3, 5, 6, 9].map((s) => reading(BOOT_A, s)), { protocol: 'v1', receivedAt: 1_000 });
      expect(await db.readings.recordShutdown('dev-1', BOOT_A, 10, 77)).toBe('recorded');
      expect(await db.readings.recordShutdown('dev-1', BOOT_A, 10, 77)).toBe('duplicate');
      expect(await db.readings.recordShutdown('dev-1', BOOT_A, 12, 78)).toBe('conflict');
      await db.readings.storeReadings('dev-1', [1, 2, 3].map((s) => reading(BOOT_B, s)), { protocol: 'v1', receivedAt: 2_000 });
      // A boot whose only trace is its shutdown marker lost all its readings.
      await db.readings.storeReadings('dev-1', [], { protocol: 'v1', receivedAt: 3_000, shutdowns: [{ bootId: 'ffffffffffffffff', seq: 2, at: 9 }] });
      expect(await db.readings.gaps('dev-1')).toEqual([
        {
          bootId: BOOT_A,
          firstSeenAt: 1_000,
          readings: 6,
          minSeq: 1,
          maxSeq: 9,
          shutdownSeq: 10,
          missingCount: 4,
          missing: [
            { from: 4, to: 4 },
            { from: 7, to: 8 },
            { from: 10, to: 10 },
          ],
        },
        { bootId: BOOT_B, firstSeenAt: 2_000, readings: 3, minSeq: 1, maxSeq: 3, shutdownSeq: null, missingCount: 0, missing: [] },
        { bootId: 'ffffffffffffffff', firstSeenAt: 3_000, readings: 0, minSeq: null, maxSeq: null, shutdownSeq: 2, missingCount: 2, missing: [{ from: 1, to: 2 }] },
      ]);
      expect(await db.readings.gaps('nobody')).toEqual([]);
    });

    it('rejects NULL into a NOT NULL column instead of coercing it', async () => {
      const db = await openFresh();
      const insert = 'INSERT INTO readings (device_id, reading_key, stream_id, measured_at, received_at, values_json) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)';
      await expect(db.dataSource.query(insert, ['d', 'k1', '1-0', 1, 1, '{}', 'd', 'k2', '1-1', null, 1, '{}'])).rejects.toThrow(/null/i);
      expect(await db.readings.countReadings()).toBe(0);
    });

    it('increments the desired config version per change and keeps the reported one', async () => {
      const db = await openFresh();
      expect(await db.configs.getDesired('dev-1')).toBeUndefined();
      expect(await db.configs.setDesired('dev-1', { interval_seconds: '5' }, 100)).toEqual({ version: 1 });
      expect(await db.configs.setDesired('dev-1', { interval_seconds: '10' }, 200)).toEqual({ version: 2 });
      expect(await db.configs.setDesired('dev-2', { interval_seconds: '1' }, 300)).toEqual({ version: 1 });
      const concurrent = await Promise.all([1, 2, 3, 4].map((i) => db.configs.setDesired('dev-1', { interval_seconds: String(i) }, 400 + i)));
      expect(concurrent.map((c) => c.version).sort()).toEqual([3, 4, 5, 6]);
      const latest = await db.configs.getDesired('dev-1');
      expect(latest?.version).toBe(6);
      expect(latest?.config).toEqual({ interval_seconds: String(concurrent.findIndex((c) => c.version === 6) + 1) });

      await db.configs.setReported('dev-1', 2, { interval_seconds: '10' }, [{ key: 'bogus', code: 'unknown_key', message: 'no such key' }], 500);
      expect(await db.configs.getReported('dev-1')).toEqual({
        deviceId: 'dev-1',
        version: 2,
        config: { interval_seconds: '10' },
        errors: [{ key: 'bogus', code: 'unknown_key', message: 'no such key' }],
        reportedAt: 500,
      });
      await db.configs.setReported('dev-1', 6, { interval_seconds: '4' }, null, 600);
      expect((await db.configs.getReported('dev-1'))?.errors).toBeNull();
    });

    it('records rejections with an excerpt of the payload, newest first', async () => {
      const db = await openFresh();
      const payload = Buffer.concat([Buffer.from('{"v":1,"oops":"'), Buffer.alloc(2000, 0x61)]);
      await db.rejections.recordRejection({ topic: 'iot-projekt/device/dev-1/readings', deviceId: 'dev-1', reason: 'wrong_shape', detail: 'entries: required', payload, receivedAt: 10 });
      await db.rejections.recordRejection({ topic: `x/${'t'.repeat(300)}`, reason: 'unknown_topic', detail: 'd'.repeat(1500), payload: Buffer.from([0xff, 0x00, 0x41]), receivedAt: 20 });
      const [newest, oldest] = await db.rejections.listRejections(10, 0);
      expect(newest).toMatchObject({ receivedAt: 20, deviceId: null, reason: 'unknown_topic', payloadBytes: 3, payloadExcerpt: '\uFFFD\u0000A' });
      expect(newest?.topic).toHaveLength(255);
      expect(newest?.detail).toHaveLength(1000);
      expect(oldest).toMatchObject({ receivedAt: 10, deviceId: 'dev-1', reason: 'wrong_shape', detail: 'entries: required', payloadBytes: 2015 });
      expect(oldest?.payloadExcerpt).toBe(`{"v":1,"oops":"${'a'.repeat(1024 - 15)}`);
      expect((await db.rejections.listRejections(10, 1)).map((r) => r.receivedAt)).toEqual([10]);
      expect(await db.rejections.countRejections()).toBe(2);
    });

    it('keeps the newest status per device and lists devices', async () => {
      const db = await openFresh();
      expect(await db.devices.recordStatus('dev-b', { online: true, at: 1, backlog: 3 }, 1000)).toBe(true);
      expect(await db.devices.recordStatus('dev-b', { online: false, at: 0 }, 900)).toBe(false);
      await db.devices.touch('dev-a', 'original', 950);
      await db.devices.touch('dev-b', 'v1', 1100);
      expect(await db.devices.setName('dev-a', 'Greenhouse')).toBe(true);
      const devices = await db.devices.listDevices();
      expect(devices.map((d) => [d.id, d.protocol, d.online, d.lastSeenAt, d.name])).toEqual([
        ['dev-a', 'original', null, 950, 'Greenhouse'],
        ['dev-b', 'v1', true, 1100, null],
      ]);
      expect(devices[1]?.status).toEqual({ online: true, at: 1, backlog: 3 });
      expect(devices[1]?.statusAt).toBe(1000);
      expect(await db.devices.getDevice('nope')).toBeUndefined();
    });

    it('moves commands through delivered, answered and expired', async () => {
      const db = await openFresh();
      await db.commands.create({ id: 'c1', deviceId: 'dev-1', command: 'get_config', args: { key: 'interval' }, createdAt: 100, expiresAt: 1000 });
      await db.commands.create({ id: 'c2', deviceId: 'dev-1', command: 'reboot', args: {}, createdAt: 200, expiresAt: 300 });
      await db.commands.create({ id: 'c3', deviceId: 'dev-1', command: 'get_config', args: { key: 'other' }, createdAt: 250, expiresAt: 1000 });
      await expect(db.commands.create({ id: 'c1', deviceId: 'dev-1', command: 'x', args: {}, createdAt: 1, expiresAt: 2 })).rejects.toThrow();
      expect(await db.commands.markDelivered('c1', 110)).toBe(true);
      expect(await db.commands.markDelivered('c1', 120)).toBe(false);
      expect((await db.commands.findPendingForOriginal('dev-1', 'GET_CONFIG'))?.id).toBe('c1');
      expect(await db.commands.markAnswered('c1', true, { value: '2' }, 130)).toBe(true);
      expect((await db.commands.findPendingForOriginal('dev-1', 'get_config'))?.id).toBe('c3');
      expect(await db.commands.expireDue(300)).toBe(1);
      expect(await db.commands.markAnswered('c2', false, { error: 'late' }, 400)).toBe(true);
      expect(await db.commands.markAnswered('c2', true, {}, 401)).toBe(false);
      const list = await db.commands.list('dev-1', 10);
      expect(list.map((c) => [c.id, c.state, c.ok])).toEqual([
        ['c3', 'pending', null],
        ['c2', 'answered', false],
        ['c1', 'answered', true],
      ]);
      expect(list[2]).toMatchObject({ args: { key: 'interval' }, deliveredAt: 110, answeredAt: 130, response: { value: '2' } });
    });
  });
}
