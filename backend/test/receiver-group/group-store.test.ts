import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MariaDbServer } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, type NewReading, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import type { GroupBatch } from '../../src/db/reading-store.ts';

/**
 * ReadingStore.storeGroup against the per-batch path: the same batches stored as one group
 * transaction and one after another must leave the same readings, boots, counters and rollup
 * marks, and give the same results, on both databases.
 */
const BOOT_A = 'aaaaaaaaaaaaaaaa';
const BOOT_B = 'bbbbbbbbbbbbbbbb';
const BOOT_B2 = 'b2b2b2b2b2b2b2b2';
const BOOT_C = 'cccccccccccccccc';
const T0 = 1_700_000_000_000;

function reading(bootId: string | null, seq: number, values: Record<string, number> = { temperature_celsius: 20 + seq }): NewReading {
  const at = T0 + seq * 90_000;
  return { bootId, seq: bootId === null ? null : seq, streamId: `${at}-0`, measuredAt: at, values };
}

const range = (bootId: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => reading(bootId, from + i));

/** Several devices; duplicates of earlier batches and within the group, a conflict, a second boot, readings without identity, a shutdown marker. */
function mixedGroup(): GroupBatch[] {
  return [
    { deviceId: 'dev-a', readings: range(BOOT_A, 1, 5), meta: { protocol: 'v1', receivedAt: T0 + 1 } },
    { deviceId: 'dev-b', readings: [...range(BOOT_B, 1, 3), reading(null, 7)], meta: { protocol: 'v1', deviceType: 'pi4', receivedAt: T0 + 2 } },
    { deviceId: 'dev-a', readings: [...range(BOOT_A, 4, 8), reading(BOOT_A, 2, { temperature_celsius: -1 })], meta: { protocol: 'v1', receivedAt: T0 + 3 } },
    { deviceId: 'dev-c', readings: range(BOOT_C, 1, 2), meta: { protocol: 'v1', receivedAt: T0 + 4, shutdowns: [{ bootId: BOOT_C, seq: 2, at: T0 }] } },
    { deviceId: 'dev-b', readings: range(BOOT_B2, 1, 2), meta: { protocol: 'v1', receivedAt: T0 + 5 } },
  ];
}

function freshGroup(): GroupBatch[] {
  return ['dev-x', 'dev-y', 'dev-z'].map((deviceId, i) => ({ deviceId, readings: range(BOOT_A, 1 + i * 10, 10 + i * 10), meta: { protocol: 'v1' as const, receivedAt: T0 + i } }));
}

async function snapshot(db: Database) {
  const rows = (sql: string) => db.sql.read((s) => s.rows(sql));
  return {
    readings: await rows('SELECT device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json, clock_skew FROM readings ORDER BY device_id, reading_key'),
    boots: await rows('SELECT device_id, boot_id, first_seen_at, shutdown_seq, shutdown_at, readings, min_seq, max_seq FROM boots ORDER BY device_id, boot_id'),
    devices: await rows('SELECT id, protocol, device_type, first_seen_at, last_seen_at, readings_stored, duplicates_absorbed FROM devices ORDER BY id'),
    marks: await rows('SELECT device_id, bucket_start FROM rollup_dirty ORDER BY device_id, bucket_start'),
    integrity: await db.integrity.report(),
  };
}

function describeGroupStore(name: string, config: () => Promise<DatabaseConfig>): void {
  describe(`ReadingStore.storeGroup on ${name}`, () => {
    const open: Database[] = [];
    const db = async () => {
      const opened = await openDatabase(await config());
      open.push(opened);
      return opened;
    };
    afterAll(async () => {
      await Promise.all(open.map((d) => d.close()));
    });

    for (const [what, group] of [
      ['with duplicates, a conflict and a shutdown marker', mixedGroup],
      ['of new readings only', freshGroup],
    ] as const) {
      it(`leaves what the per-batch path leaves, ${what}`, async () => {
        const [grouped, serial] = await Promise.all([db(), db()]);
        const earlier = [reading(BOOT_A, 1), reading(BOOT_A, 2)];
        for (const target of [grouped, serial]) await target.readings.storeReadings('dev-a', earlier, { protocol: 'v1', receivedAt: T0 });
        const batches = group();
        const groupResults = await grouped.readings.storeGroup(batches);
        const serialResults = [];
        for (const b of batches) serialResults.push(await serial.readings.storeReadings(b.deviceId, b.readings, b.meta));
        expect(groupResults).toEqual(serialResults);
        expect(await snapshot(grouped)).toEqual(await snapshot(serial));
      });
    }

    it('reports the conflict and the duplicates batch by batch', async () => {
      const target = await db();
      await target.readings.storeReadings('dev-a', [reading(BOOT_A, 1), reading(BOOT_A, 2)], { protocol: 'v1', receivedAt: T0 });
      const results = await target.readings.storeGroup(mixedGroup());
      expect(results.map((r) => [r.stored, r.duplicates, r.conflicts.length])).toEqual([
        [3, 2, 0],
        [4, 0, 0],
        [3, 3, 1],
        [2, 0, 0],
        [2, 0, 0],
      ]);
      expect(results[2]!.conflicts[0]).toMatchObject({ key: `${BOOT_A}:2`, received: { values: { temperature_celsius: -1 } } });
    });

    it('stores nothing of the group when one statement fails', async () => {
      const target = await db();
      const batches = freshGroup();
      // NOT NULL on both databases: the statement fails after the device rows were written.
      const bad = { ...batches[1]!, readings: [...batches[1]!.readings, { ...reading(BOOT_B, 99), measuredAt: null as unknown as number }] };
      await expect(target.readings.storeGroup([batches[0]!, bad, batches[2]!])).rejects.toThrow();
      expect(await target.readings.countReadings()).toBe(0);
      expect(await snapshot(target)).toMatchObject({ readings: [], boots: [], devices: [], marks: [] });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'iot-group-store-'));
const server = new MariaDbServer();
let count = 0;
beforeAll(async () => {
  await server.start();
}, 60_000);
afterAll(async () => {
  await server.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describeGroupStore('SQLite', async () => ({ kind: 'sqlite', path: join(dir, `db-${++count}.sqlite`) }));
describeGroupStore('MariaDB', async () => parseDatabaseUrl(await server.createDatabase(`group_${++count}`)));
