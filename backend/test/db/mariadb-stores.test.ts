import { MariaDbServer } from '@iot/harness/processes';
import { createConnection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, isConnectionError, type MariaDbConfig, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import { describeIntegritySuite } from './integrity-suite.ts';
import { describeRefresherSuite } from './rollup-refresher-suite.ts';
import { describeRollupSuite } from './rollup-suite.ts';
import { BOOT_A, describeStoreSuite, reading } from './store-suite.ts';
import { describeUserMigrationSuite } from './user-migration-suite.ts';

// One server for the shared suite (a fresh database per test), one for the fault tests, which
// kill and freeze it. The second runs with an empty global sql_mode: strictness must come from
// the backend's own session settings.
const suiteServer = new MariaDbServer();
const faultServer = new MariaDbServer({ extraArgs: ['--sql-mode='] });
let databases = 0;

beforeAll(async () => {
  await Promise.all([suiteServer.start(), faultServer.start()]);
});
afterAll(async () => {
  await Promise.all([suiteServer.dispose(), faultServer.dispose()]);
});

describeStoreSuite('MariaDB', async (): Promise<DatabaseConfig> => parseDatabaseUrl(await suiteServer.createDatabase(`suite_${++databases}`)));
describeRollupSuite('MariaDB', async (): Promise<DatabaseConfig> => parseDatabaseUrl(await suiteServer.createDatabase(`suite_${++databases}`)));
describeIntegritySuite('MariaDB', async (): Promise<DatabaseConfig> => parseDatabaseUrl(await suiteServer.createDatabase(`suite_${++databases}`)));
describeRefresherSuite('MariaDB', async (): Promise<DatabaseConfig> => parseDatabaseUrl(await suiteServer.createDatabase(`suite_${++databases}`)), true);
describeUserMigrationSuite('MariaDB', async (): Promise<DatabaseConfig> => parseDatabaseUrl(await suiteServer.createDatabase(`suite_${++databases}`)));

describe('MariaDB specifics', () => {
  const open: Database[] = [];
  const openFault = async (overrides: Partial<MariaDbConfig> = {}) => {
    const config = { ...(parseDatabaseUrl(await faultServer.createDatabase(`fault_${++databases}`)) as MariaDbConfig), ...overrides };
    const db = await openDatabase(config);
    open.push(db);
    return db;
  };
  afterEach(async () => {
    if (!faultServer.running) await faultServer.start();
    faultServer.thaw();
    for (const db of open.splice(0)) await db.close();
  });

  it('makes truncation and NULL into NOT NULL errors even where the server default is not strict', async () => {
    const db = await openFault();
    const [mode] = (await db.dataSource.query('SELECT @@SESSION.sql_mode AS session, @@GLOBAL.sql_mode AS global')) as { session: string; global: string }[];
    expect(mode?.global).toBe('');
    expect(mode?.session).toContain('STRICT_ALL_TABLES');

    const insert = 'INSERT INTO readings (device_id, reading_key, stream_id, measured_at, received_at, values_json) VALUES (?, ?, ?, ?, ?, ?)';
    await expect(db.dataSource.query(insert, ['d', 'k'.repeat(81), '1-0', 1, 1, '{}'])).rejects.toMatchObject({ driverError: { code: 'ER_DATA_TOO_LONG' } });
    // The same statement on a plain connection to this server stores a cut key: what strict mode prevents.
    const plain = await createConnection({ host: faultServer.host, port: faultServer.port, user: 'root', database: db.dataSource.options.database as string });
    try {
      await plain.query(insert, ['plain', 'k'.repeat(81), '1-0', 1, 1, '{}']);
      const [rows] = await plain.query('SELECT reading_key FROM readings WHERE device_id = ?', ['plain']);
      expect((rows as { reading_key: string }[])[0]?.reading_key).toHaveLength(80);
    } finally {
      await plain.end();
    }

    // A batch with a value too long for its column fails as a whole: no readings, no device row.
    const bad = { ...reading(BOOT_A, 2), streamId: `${'9'.repeat(30)}-${'9'.repeat(20)}` };
    await expect(db.readings.storeReadings('dev-strict', [reading(BOOT_A, 1), bad])).rejects.toThrow(/too long/i);
    expect(await db.readings.countReadings('dev-strict')).toBe(0);
    expect(await db.devices.getDevice('dev-strict')).toBeUndefined();
  });

  it('recovers on the same Database object after mariadbd is killed and restarted', async () => {
    const db = await openFault();
    expect((await db.readings.storeReadings('dev-k', [reading(BOOT_A, 1), reading(BOOT_A, 2)])).stored).toBe(2);

    await faultServer.kill();
    const down = await db.readings.storeReadings('dev-k', [reading(BOOT_A, 3)]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isConnectionError(down)).toBe(true);

    await faultServer.start();
    expect(await db.readings.storeReadings('dev-k', [reading(BOOT_A, 2), reading(BOOT_A, 3)])).toEqual({ stored: 1, duplicates: 1, conflicts: [] });
    expect(await db.readings.readingKeys('dev-k')).toEqual([1, 2, 3].map((s) => `${BOOT_A}:${s}`));
  });

  it('fails within the query timeout while mariadbd is frozen and works again after it thaws', async () => {
    const db = await openFault({ queryTimeoutMs: 1_500, connectTimeoutMs: 1_500 });
    await db.readings.storeReadings('dev-f', [reading(BOOT_A, 1)]);

    faultServer.freeze();
    for (const seq of [2, 3]) {
      const started = Date.now();
      const error = await db.readings.storeReadings('dev-f', [reading(BOOT_A, seq)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(isConnectionError(error), String(error)).toBe(true);
      // It waited for the query timeout rather than failing at once; that it gives up at all (no
      // hang) is what the test's own timeout shows, so there is no upper bound on a loaded machine.
      expect(elapsed).toBeGreaterThanOrEqual(1_400);
    }

    faultServer.thaw();
    expect((await db.readings.storeReadings('dev-f', [reading(BOOT_A, 2), reading(BOOT_A, 3)])).stored).toBe(2);
    expect(await db.readings.countReadings('dev-f')).toBe(3);
  });
});
