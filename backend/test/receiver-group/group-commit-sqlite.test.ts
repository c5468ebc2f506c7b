import { systemClock } from '@iot/common/clock';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack } from '@iot/harness';
import { captureLogs, eventually } from '@iot/harness/testing';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import { databaseIngestStore } from '../../src/receiver/database-ingest-store.ts';
import type { IngestStore } from '../../src/receiver/ingest-store.ts';
import { Receiver } from '../../src/receiver/receiver.ts';
import { FakeDevice } from '../receiver/fake-device.ts';

/**
 * Group commit on SQLite, with a receiver in this process over a real aedes and the real store.
 * better-sqlite3 waits for a lock synchronously, blocking the receiver's event loop, so the writer
 * is held here instead: the first store waits for the test (fault injection on the real store).
 */
describe('receiver on SQLite: group commit', () => {
  const stack = new BackendStack({ deviceIds: ['dev-x', 'dev-a', 'dev-b', 'dev-c'], broker: 'aedes', database: 'sqlite' });
  let db: Database;
  let receiver: Receiver;
  let release: () => void = () => {};
  let held = false;
  const logs = captureLogs('receiver');

  beforeAll(async () => {
    await stack.start();
    db = await openDatabase(parseDatabaseUrl(stack.databaseUrl));
    const real = databaseIngestStore(db);
    const store: IngestStore = {
      ...real,
      storeBatch: async (...args) => {
        if (held) {
          held = false;
          await new Promise<void>((resolve) => (release = resolve));
        }
        return real.storeBatch(...args);
      },
    };
    const login = stack.login('receiver');
    receiver = new Receiver({
      connect: () => mqtt.connect({ host: '127.0.0.1', port: stack.brokerPort, ...login, clientId: 'receiver-sqlite', protocolVersion: 4, clean: false }),
      store,
      topics: new TopicScheme(),
      logger: logs.logger,
      clock: systemClock,
      maxPayloadBytes: 256 * 1024,
      groupCommit: { maxBatches: 100, maxReadings: 10_000, maxBytes: 1024 * 1024, writers: 1 },
    });
    await receiver.start();
    await eventually(() => logs.find('receiver_subscribed').length > 0, 10_000, 'the receiver subscribed');
  }, 60_000);
  afterAll(async () => {
    release();
    await receiver?.stop();
    await db?.close();
    await stack.dispose();
  });

  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(receiver.metrics.render())?.[1]);

  it('writes the batches of several devices that wait meanwhile in one transaction, and acks each after it', async () => {
    const devices = await Promise.all(['dev-x', 'dev-a', 'dev-b', 'dev-c'].map((id, i) => FakeDevice.connect(stack.brokerPort, id, stack.login(id), String(i + 1).repeat(16))));
    try {
      const [x, ...others] = devices as [FakeDevice, ...FakeDevice[]];
      held = true;
      const first = x.batch(x.entries(2));
      await x.publish('readings', first);
      await eventually(() => !held, 10_000, 'the writer holding dev-x\'s batch');
      const batches = others.map((d) => ({ d, batch: d.batch(d.entries(7)) }));
      for (const { d, batch } of batches) await d.publish('readings', batch);
      await eventually(() => gauge('iot_receiver_group_waiting_batches') === 3, 10_000, 'three batches waiting for a group');
      expect(batches.filter(({ d }) => d.acks.length > 0)).toEqual([]);

      release();
      for (const { d, batch } of batches) {
        expect(await eventually(() => d.acks.find((a) => a.batch === batch.batch), 10_000, `${d.id}'s ack`)).toMatchObject({ stored: 7, duplicates: 0 });
      }
      await eventually(() => x.acks.find((a) => a.batch === first.batch), 10_000, 'dev-x\'s ack');
      expect(gauge('iot_receiver_group_commits_total')).toBe(1);
      expect(gauge('iot_receiver_group_batches_total')).toBe(3);
      for (const d of others) expect(await db.readings.countReadings(d.id)).toBe(7);
      expect((await db.integrity.report()).filter((r) => r.id !== 'dev-x').map((r) => [r.id, r.readings, r.missing])).toEqual([
        ['dev-a', 7, 0],
        ['dev-b', 7, 0],
        ['dev-c', 7, 0],
      ]);
    } finally {
      await Promise.all(devices.map((d) => d.close()));
    }
  });
});
