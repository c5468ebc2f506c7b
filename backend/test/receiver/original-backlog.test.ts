import type { OriginalReading } from '@iot/common/protocol';
import { BackendStack, type BrokerKind, type DatabaseKind } from '@iot/harness';
import { BrokerProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_CHUNK_READINGS } from '../../src/db/reading-store.ts';
import { FakeDevice } from './fake-device.ts';

const MiB = 1024 * 1024;
/** The receiver's limits in this test: small enough to go over cheaply, larger than a 256 KiB broker limit. */
const MAX_ORIGINAL_BYTES = 4 * MiB;
const MAX_READINGS = 20_000;

/** An original reading as the original stamps it (docs/original-system.md §11): ~230 bytes. */
function originalReading(deviceId: string, ms: number): OriginalReading {
  return {
    _id: `${ms}-0`,
    _device_uuid: deviceId,
    _device_type: 'raspberrypi4-64',
    _app_id: '1234567',
    _app_name: 'iot-projekt',
    temperature_celsius: (20 + (ms % 1000) / 100).toFixed(2),
    humidity_percent: (40 + (ms % 500) / 100).toFixed(2),
    pressure_hpa: (1000 + (ms % 300) / 10).toFixed(1),
  };
}

/**
 * Defect (issue 14): after a long offline period the original publishes its whole backlog as one
 * QoS 1 message on `values` (docs/original-system.md §14). Over the broker's 256 KiB limit, the
 * broker closed the connection before the PUBACK, paho re-sent it on every reconnect, and the
 * device was stuck. Now the values topic admits a backlog of several MB (docs/protocol.md §9), the
 * receiver stores it in bounded transactions, and every other topic keeps the small limit. On
 * both brokers and both databases, as real processes.
 */
describe.each<{ broker: BrokerKind; database: DatabaseKind }>([
  { broker: 'aedes', database: 'sqlite' },
  { broker: 'mosquitto', database: 'mariadb' },
])('an original backlog larger than 256 KiB ($broker, $database)', ({ broker, database }) => {
  const stack = new BackendStack({ deviceIds: ['old-big', 'old-over', 'old-many', 'dev-v1'], broker, database });
  const devices: FakeDevice[] = [];
  const device = async (id: string) => {
    const fake = await FakeDevice.connect(stack.brokerPort, id, stack.login(id));
    devices.push(fake);
    return fake;
  };

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver({
      env: { RECEIVER_MAX_ORIGINAL_PAYLOAD_BYTES: String(MAX_ORIGINAL_BYTES), RECEIVER_MAX_READINGS_PER_ORIGINAL_MESSAGE: String(MAX_READINGS) },
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await stack.dispose();
  });

  it('takes the whole backlog as one message, acknowledges it, and stores every reading in chunks', async () => {
    const db = await stack.database();
    const old = await device('old-big');
    const count = 2 * STORE_CHUNK_READINGS + 1234;
    const start = Date.now() - count * 1000;
    const backlog = Array.from({ length: count }, (_, i) => originalReading('old-big', start + i * 1000));
    const payload = JSON.stringify(backlog);
    expect(payload.length).toBeGreaterThan(2 * MiB);
    // publishAsync resolves on the PUBACK: before the fix the broker closed the connection instead.
    await old.publish('values', payload);
    await eventually(async () => (await db.readings.countReadings('old-big')) === count, 120_000, `all ${count} readings`);
    const keys = await db.readings.readingKeys('old-big');
    expect(new Set(keys)).toEqual(new Set(backlog.map((r) => `s:${r._id}`)));
    // The integrity counters add up over the chunks' transactions.
    const integrity = (await db.integrity.report()).find((d) => d.id === 'old-big');
    expect(integrity).toMatchObject({ readings: count });
    expect((await db.devices.getDevice('old-big'))?.appName).toBe('iot-projekt');

    // paho re-sends the same message when the PUBACK is lost: all duplicates, nothing twice.
    await old.publish('values', payload);
    await eventually(async () => (await db.devices.getDevice('old-big'))?.duplicatesAbsorbed === count, 120_000, 'the re-sent backlog absorbed');
    expect(await db.readings.countReadings('old-big')).toBe(count);
  });

  it('refuses a message over the receiver limit of the values topic, with a recorded rejection', async () => {
    const db = await stack.database();
    const old = await device('old-over');
    const element = originalReading('old-over', 1_700_000_000_000);
    const padding = JSON.stringify(element).length + 1;
    const payload = JSON.stringify(Array.from({ length: Math.ceil((MAX_ORIGINAL_BYTES + 1) / padding) }, (_, i) => originalReading('old-over', 1_700_000_000_000 + i)));
    expect(payload.length).toBeGreaterThan(MAX_ORIGINAL_BYTES);
    await old.publish('values', payload);
    const rejection = await eventually(
      async () => (await db.rejections.listRejections(100)).find((r) => r.deviceId === 'old-over'),
      60_000,
      'the oversize rejection',
    );
    expect(rejection).toMatchObject({ reason: 'oversize', topic: 'iot-projekt/device/old-over/values', detail: expect.stringContaining(`the limit is ${MAX_ORIGINAL_BYTES}`) });
    expect(await db.readings.countReadings('old-over')).toBe(0);
  });

  it('stores the first readings of a message with more than the per-message limit and records the rest as limit_exceeded', async () => {
    const db = await stack.database();
    const old = await device('old-many');
    const base = Date.now() - 3_600_000;
    const elements = Array.from({ length: MAX_READINGS + 7 }, (_, i) => ({ _id: `${base}-${i}`, t: '1' }));
    await old.publish('values', elements);
    await eventually(async () => (await db.readings.countReadings('old-many')) === MAX_READINGS, 120_000, `${MAX_READINGS} readings`);
    const rejection = await eventually(async () => (await db.rejections.listRejections(100)).find((r) => r.deviceId === 'old-many'), 60_000, 'the limit rejection');
    expect(rejection).toMatchObject({ reason: 'limit_exceeded', count: 7, detail: expect.stringContaining('RECEIVER_MAX_READINGS_PER_ORIGINAL_MESSAGE') });
  });

  it('keeps the small limit on every other topic: a v1 batch over 256 KiB is never stored', async () => {
    const db = await stack.database();
    const v1 = await device('dev-v1');
    const entries = v1.entries(1, () => ({ temperature_celsius: 20 }));
    const batch = { ...v1.batch(entries, 'too-big'), meta: { app_name: 'x' }, padding: 'p'.repeat(300 * 1024) };
    // aedes refuses it (the connection closes: no PUBACK, so not awaited: MQTT.js would re-send it
    // on every reconnect); Mosquitto admits it (one global limit, docs/security.md §4) and the
    // receiver refuses it by its own limit of the readings topic.
    if (stack.broker instanceof BrokerProcess) {
      v1.client.publish('iot-projekt/device/dev-v1/readings', JSON.stringify(batch), { qos: 1 });
      const refusal = await stack.broker.service.waitForLog((r) => r.event === 'publish_refused' && r.reason === 'payload_too_large', 30_000, 'the refusal');
      expect(refusal).toMatchObject({ topic: 'iot-projekt/device/dev-v1/readings' });
      await v1.client.endAsync(true);
    } else {
      expect(broker).toBe('mosquitto');
      await v1.publish('readings', batch);
      const rejection = await eventually(async () => (await db.rejections.listRejections(100)).find((r) => r.deviceId === 'dev-v1'), 30_000, 'the oversize rejection');
      expect(rejection).toMatchObject({ reason: 'oversize', topic: 'iot-projekt/device/dev-v1/readings' });
    }
    expect(v1.acks.find((a) => a.batch === 'too-big')).toBeUndefined();
    expect(await db.readings.countReadings('dev-v1')).toBe(0);
  });
});
