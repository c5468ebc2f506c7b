import { BackendStack } from '@iot/harness';
import { findFreePort } from '@iot/harness/processes';
import { eventually, holdsFor } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDevice } from './fake-device.ts';

/**
 * The receiver as a process between a real aedes broker and a real MariaDB, fed by a hand-driven
 * device client so every payload can be exactly what the test needs.
 */
describe('receiver: store once, ack after commit, reject what is bad', () => {
  const stack = new BackendStack({ deviceIds: ['dev-1', 'dev-2', 'old-1'], broker: 'aedes', database: 'mariadb' });
  let device: FakeDevice;
  let healthPort: number;
  const health = async () => {
    const response = await fetch(`http://127.0.0.1:${healthPort}/health`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    await stack.start();
    healthPort = await findFreePort();
    await stack.startReceiver({ env: { RECEIVER_MAX_PAYLOAD_BYTES: '4096', RECEIVER_HEALTH_PORT: String(healthPort) } });
    device = await FakeDevice.connect(stack.brokerPort, 'dev-1', stack.login('dev-1'));
  }, 60_000);
  afterAll(async () => {
    await device?.close();
    await stack.dispose();
  });

  it('stores a batch and acknowledges it; the same batch again is all duplicates', async () => {
    const db = await stack.database();
    const batch = device.batch(device.entries(25));
    const ack = await device.deliver(batch);
    expect(ack).toMatchObject({ v: 1, batch: batch.batch, stored: 25, duplicates: 0, rejected: 0, up_to: batch.entries.at(-1)!.id });
    expect(await db.readings.countReadings('dev-1')).toBe(25);

    device.acks.length = 0;
    const again = await device.deliver(batch);
    expect(again).toMatchObject({ stored: 0, duplicates: 25 });
    expect(await db.readings.countReadings('dev-1')).toBe(25);
  });

  it('records every kind of bad payload with its reason, and keeps serving valid traffic', async () => {
    const db = await stack.database();
    const before = await db.rejections.countRejections();
    const good = device.entries(1)[0]!;
    await device.publish('readings', '{"v":1,');
    await device.publish('readings', { v: 1, device: 'dev-1' });
    await device.publish('readings', { ...device.batch([good]), sent_at: 'yesterday' });
    await device.publish('readings', { ...device.batch([good]), v: 2 });
    await device.publish('readings', device.batch([{ ...good, values: { temperature_celsius: 'x'.repeat(5000) } }]));
    // A device may only publish under its own id (the broker enforces the topic), but the payload
    // can still claim another device.
    await device.publish('readings', { ...device.batch([good]), device: 'dev-2' });
    await eventually(async () => (await db.rejections.countRejections()) >= before + 6, 10_000, 'six rejections');
    const reasons = (await db.rejections.listRejections(6)).map((r) => r.reason).sort();
    expect(reasons).toEqual(['device_mismatch', 'not_json', 'oversize', 'unsupported_version', 'wrong_shape', 'wrong_type']);
    const [mismatch] = (await db.rejections.listRejections(6)).filter((r) => r.reason === 'device_mismatch');
    expect(mismatch).toMatchObject({ deviceId: 'dev-1', topic: 'iot-projekt/device/dev-1/readings' });
    expect(mismatch!.detail).toContain('dev-2');

    // A batch with one bad entry: the good ones are stored, the bad one recorded, the batch acked.
    const [a, b] = device.entries(2);
    const mixed = device.batch([a, { ...b!, seq: 'seven' }]);
    const ack = await device.deliver(mixed);
    expect(ack).toMatchObject({ stored: 1, rejected: 1, up_to: b!.id });
    const [entryRejection] = await db.rejections.listRejections(1);
    expect(entryRejection).toMatchObject({ reason: 'wrong_type' });
    expect(entryRejection!.detail).toContain('seq');
  });

  it('reports a reading stored before with other values as an identity conflict, keeping the first', async () => {
    const db = await stack.database();
    const [entry] = device.entries(1);
    await device.deliver(device.batch([entry]));
    const forged = device.batch([{ ...entry!, values: { temperature_celsius: -99 } }], 'forged');
    const ack = await device.deliver(forged);
    expect(ack).toMatchObject({ stored: 0, duplicates: 1, rejected: 1 });
    const [conflict] = await db.rejections.listRejections(1);
    expect(conflict).toMatchObject({ reason: 'identity_conflict' });
    const stored = (await db.readings.listReadings('dev-1', { limit: 1000 })).find((r) => r.seq === entry!.seq);
    expect(stored?.values).toEqual(entry!.values);
  });

  it('stores readings of an original-format device idempotently, without acks', async () => {
    const old = await FakeDevice.connect(stack.brokerPort, 'old-1', stack.login('old-1'));
    try {
      const db = await stack.database();
      const readings = [
        { _id: '1700000000000-0', _device_uuid: 'old-1', _device_type: 'raspberrypi3', _app_id: '42', _app_name: 'legacy', temperature_celsius: '21.5', humidity_percent: '40' },
        { _id: '1700000001000-0', _device_uuid: 'old-1', _device_type: 'raspberrypi3', _app_id: '42', _app_name: 'legacy', temperature_celsius: '21.6', humidity_percent: '41' },
      ];
      await old.publish('values', readings);
      await old.publish('values', readings);
      await eventually(async () => (await db.readings.countReadings('old-1')) === 2, 10_000, 'two stored readings');
      await holdsFor(async () => (await db.readings.countReadings('old-1')) === 2, 300, 'the repeated publication stored nothing more');
      expect(await db.readings.readingKeys('old-1')).toEqual(['s:1700000000000-0', 's:1700000001000-0']);
      expect(await db.devices.getDevice('old-1')).toMatchObject({ protocol: 'original', deviceType: 'raspberrypi3', appName: 'legacy' });
      expect(old.acks).toHaveLength(0);
    } finally {
      await old.close();
    }
  });

  it('with MariaDB down for 30 s it stops acking, reports unhealthy, and resumes without a restart', async () => {
    const db = await stack.database();
    const receiver = stack.receivers[0]!;
    expect(await health()).toEqual({ status: 200, body: expect.objectContaining({ healthy: true, database: true, mqtt: true }) });
    await stack.mariadb!.kill();
    const batch = device.batch(device.entries(10), 'during-outage');
    const downAt = Date.now();
    await device.publish('readings', batch);
    await receiver.waitForLog((r) => r.event === 'database_down', 15_000, 'the receiver noticing the outage');
    expect(await health()).toEqual({ status: 503, body: expect.objectContaining({ healthy: false, database: false, mqtt: true }) });
    // Keep re-sending like a device does, while the database stays down for 30 s.
    while (Date.now() - downAt < 30_000) {
      await device.publish('readings', batch);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    expect(device.acks.find((a) => a.batch === 'during-outage')).toBeUndefined();
    await stack.mariadb!.start();
    const ack = await device.deliver(batch, { resendMs: 2000, timeoutMs: 40_000 });
    expect(ack).toMatchObject({ stored: 10 });
    await receiver.waitForLog((r) => r.event === 'database_up', 10_000, 'recovery');
    expect((await health()).status).toBe(200);
    expect(receiver.running).toBe(true);
    expect(await db.readings.countReadings('dev-1')).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
