import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@iot/common/clock';
import { BackendStack } from '@iot/harness';
import { findFreePort } from '@iot/harness/processes';
import { captureLogs, eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NewReading, openDatabase } from '../../src/db/index.ts';
import { DatabaseGate } from '../../src/receiver/database-gate.ts';
import { databaseIngestStore } from '../../src/receiver/database-ingest-store.ts';
import { storeIsolating } from '../../src/receiver/isolating-store.ts';
import { FakeDevice } from './fake-device.ts';

/**
 * What the database refuses for one message while it serves the others (defect 1): that
 * message's rejection (`store_refused`), recorded, and ingestion goes on; never "database down".
 */
describe('receiver: a store the database refuses is the message\'s rejection', () => {
  const stack = new BackendStack({ deviceIds: ['dev-big', 'dev-ok'], broker: 'aedes', database: 'mariadb' });
  let healthPort: number;

  beforeAll(async () => {
    await stack.start();
    healthPort = await findFreePort();
    await stack.startReceiver({ env: { RECEIVER_HEALTH_PORT: String(healthPort) } });
  }, 60_000);
  afterAll(async () => {
    await stack.dispose();
  });

  it('records a reported configuration too large for its MariaDB column, and stays healthy', async () => {
    const db = await stack.database();
    const receiver = stack.receivers[0]!;
    const big = await FakeDevice.connect(stack.brokerPort, 'dev-big', stack.login('dev-big'));
    const ok = await FakeDevice.connect(stack.brokerPort, 'dev-ok', stack.login('dev-ok'), 'eeeeeeeeeeeeeeee');
    try {
      // config_json is a TEXT column (64 KiB); strict mode makes the INSERT fail with ER_DATA_TOO_LONG.
      const config = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key_${i}`, 'v'.repeat(100)]));
      await big.publish('config/reported', { v: 1, version: 1, config });
      const row = await eventually(async () => (await db.rejections.listRejections(10)).find((r) => r.deviceId === 'dev-big'), 20_000, 'the rejection');
      expect(row).toMatchObject({ reason: 'store_refused', topic: 'iot-projekt/device/dev-big/config/reported', detail: expect.stringContaining('Data too long') });
      expect(await ok.deliver(ok.batch(ok.entries(3)))).toMatchObject({ stored: 3 });
      expect((await fetch(`http://127.0.0.1:${healthPort}/health`)).status).toBe(200);
      expect(receiver.logs().map((r) => r.event)).not.toContain('database_down');
    } finally {
      await big.close();
      await ok.close();
    }
  });
});

describe('isolating store: one reading the store refuses costs only itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-isolate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores every other reading of the batch and rejects the one that fails on its own', async () => {
    const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'isolate.sqlite') });
    try {
      const real = databaseIngestStore(db);
      // Fault injection on the real store: any transaction holding reading 7 fails as a bug would.
      const store = {
        ...real,
        storeBatch: (deviceId: string, readings: readonly NewReading[], meta: Parameters<typeof real.storeBatch>[2]) =>
          readings.some((r) => r.seq === 7) ? Promise.reject(new TypeError('cannot read properties of undefined')) : real.storeBatch(deviceId, readings, meta),
      };
      const { logger, find } = captureLogs('receiver');
      const gate = new DatabaseGate({ clock: systemClock, logger, probe: () => real.ping() });
      const readings = Array.from({ length: 20 }, (_, i) => ({ bootId: 'abababababababab', seq: i + 1, streamId: `${i + 1}-0`, measuredAt: i, values: { t: i } }));
      const outcome = await storeIsolating(gate, store, 'dev-1', readings, { protocol: 'v1' }, 'storing a batch');
      expect(outcome).toMatchObject({ status: 'done', result: { stored: 19, duplicates: 0 } });
      if (outcome.status !== 'done') return;
      expect(outcome.refused).toEqual([
        { part: readings[6], rejection: { reason: 'store_refused', detail: 'reading 7-0 could not be stored while the database served others: cannot read properties of undefined' } },
      ]);
      expect((await db.readings.listReadings('dev-1')).map((r) => r.seq)).toEqual(readings.map((r) => r.seq).filter((s) => s !== 7));
      expect(gate.healthy).toBe(true);
      expect(find('database_down')).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
