import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SensorValue } from '@iot/common/protocol';
import { MariaDbServer } from '@iot/harness/processes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, type NewReading, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import { STORE_CHUNK_READINGS } from '../../src/db/reading-store.ts';
import { manualClock } from './store-suite.ts';

const BOOT_A = 'a0a0a0a0a0a0a0a0';
const BOOT_B = 'b0b0b0b0b0b0b0b0';
const dir = mkdtempSync(join(tmpdir(), 'iot-chunks-'));
const mariadb = new MariaDbServer();
let count = 0;

beforeAll(async () => {
  await mariadb.start();
}, 60_000);
afterAll(async () => {
  await mariadb.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * storeReadings splits a large batch (an original device's whole backlog, docs/protocol.md §9)
 * into transactions of STORE_CHUNK_READINGS readings: what one transaction did, the chunks must
 * do together — counters, boots, shutdown markers, duplicates and conflicts across chunks — and
 * text values and the clock-skew flag are stored as given. On both dialects.
 */
describe.each<{ name: string; config: () => Promise<DatabaseConfig> }>([
  { name: 'SQLite', config: async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }) },
  { name: 'MariaDB', config: async () => parseDatabaseUrl(await mariadb.createDatabase(`chunks_${++count}`)) },
])('storing a batch in chunks ($name)', ({ config }) => {
  const open: Database[] = [];
  const fresh = async () => {
    const db = await openDatabase(await config(), { clock: manualClock() });
    open.push(db);
    return db;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
  });

  const total = 2 * STORE_CHUNK_READINGS + 345;
  /** Every thousandth reading carries a text value, as an original device's may (docs/protocol.md §9). */
  const valuesOf = (i: number): Record<string, SensorValue> => (i % 1000 === 0 ? { status: 'n/a', temperature_celsius: 20 } : { temperature_celsius: 20 + (i % 10) / 10 });
  const batch = (): NewReading[] =>
    Array.from({ length: total }, (_, i) => ({
      bootId: i < STORE_CHUNK_READINGS + 100 ? BOOT_A : BOOT_B,
      seq: i < STORE_CHUNK_READINGS + 100 ? i + 1 : i - STORE_CHUNK_READINGS - 99,
      streamId: `${1_700_000_000_000 + i}-0`,
      measuredAt: 1_700_000_000_000 + i * 1000,
      values: valuesOf(i),
      clockSkew: i % 2500 === 0,
    }));

  it('stores every reading once, with the counters, boots and the shutdown marker of one transaction', async () => {
    const db = await fresh();
    const readings = batch();
    const lastOfB = total - STORE_CHUNK_READINGS - 100;
    const result = await db.readings.storeReadings('dev-big', readings, { protocol: 'v1', shutdowns: [{ bootId: BOOT_B, seq: lastOfB, at: 1 }] });
    expect(result).toEqual({ stored: total, duplicates: 0, conflicts: [] });
    expect(await db.readings.countReadings('dev-big')).toBe(total);
    const report = (await db.integrity.report()).find((d) => d.id === 'dev-big')!;
    expect(report.readings).toBe(total);
    expect(report.boots.map((b) => ({ bootId: b.bootId, readings: b.readings, minSeq: b.minSeq, maxSeq: b.maxSeq }))).toEqual([
      { bootId: BOOT_A, readings: STORE_CHUNK_READINGS + 100, minSeq: 1, maxSeq: STORE_CHUNK_READINGS + 100 },
      { bootId: BOOT_B, readings: lastOfB, minSeq: 1, maxSeq: lastOfB },
    ]);
    const boots = await db.sql.read((sql) => sql.rows('SELECT boot_id, shutdown_seq FROM boots WHERE device_id = ? ORDER BY boot_id', ['dev-big']));
    expect(boots.map((b) => [String(b.boot_id), b.shutdown_seq === null ? null : Number(b.shutdown_seq)])).toEqual([
      [BOOT_A, null],
      [BOOT_B, lastOfB],
    ]);
    const flags = await db.sql.read((sql) => sql.rows('SELECT stream_id, clock_skew, values_json FROM readings WHERE device_id = ? AND (clock_skew = 1 OR stream_id = ?)', ['dev-big', '1700000000000-0']));
    expect(flags.filter((r) => Number(r.clock_skew) === 1).map((r) => String(r.stream_id)).sort()).toEqual(
      [0, 2500, 5000, 7500, 10_000].map((i) => `${1_700_000_000_000 + i}-0`).sort(),
    );
    expect(JSON.parse(String(flags.find((r) => String(r.stream_id) === '1700000000000-0')!.values_json))).toEqual({ status: 'n/a', temperature_celsius: 20 });
  });

  it('absorbs the same batch again as duplicates, and finds a conflict between readings in different chunks', async () => {
    const db = await fresh();
    await db.readings.storeReadings('dev-big', batch(), { protocol: 'original' });
    expect(await db.readings.storeReadings('dev-big', batch(), { protocol: 'original' })).toEqual({ stored: 0, duplicates: total, conflicts: [] });

    // The first reading again at the end of a new two-chunk batch, with other data: found in the chunk that holds it.
    const next: NewReading[] = Array.from({ length: STORE_CHUNK_READINGS + 1 }, (_, i) => ({
      bootId: null,
      seq: null,
      streamId: `${1_800_000_000_000 + i}-0`,
      measuredAt: 1_800_000_000_000 + i,
      values: { t: i },
    }));
    next.push({ ...batch()[0]!, values: { status: 'changed' } });
    const result = await db.readings.storeReadings('dev-big', next, { protocol: 'original' });
    expect(result.stored).toBe(STORE_CHUNK_READINGS + 1);
    expect(result.duplicates).toBe(1);
    expect(result.conflicts).toEqual([
      { key: `${BOOT_A}:1`, stored: { measuredAt: 1_700_000_000_000, values: { status: 'n/a', temperature_celsius: 20 } }, received: { measuredAt: 1_700_000_000_000, values: { status: 'changed' } } },
    ]);
  });
});
