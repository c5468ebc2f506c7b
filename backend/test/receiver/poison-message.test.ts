import { BackendStack } from '@iot/harness';
import { findFreePort } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDevice } from './fake-device.ts';

/** An array nested `levels` deep, as JSON text: JSON.stringify of such a value overflows the stack from a few thousand levels. */
function nestedJson(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

/** The batch's JSON with the first entry's value replaced by `valueJson` (the test could not stringify it either). */
function withValue(batch: object, valueJson: string): string {
  return JSON.stringify(batch).replace('"__VALUE__"', valueJson);
}

/**
 * Security review, defect 1: one batch entry nested ~6000 deep made JSON.stringify throw inside
 * DatabaseGate.run, which took any exception for a database outage. The receiver reported the
 * database down, skipped messages, recorded no rejection, and original-format readings that
 * arrived meanwhile were lost. Now only database errors close the gate; the message is rejected,
 * recorded, and everyone else's traffic goes on.
 */
describe('receiver: a poison message is rejected, not taken for a database outage', () => {
  const stack = new BackendStack({ deviceIds: ['dev-poison', 'dev-good', 'old-1'], broker: 'aedes', database: 'sqlite' });
  let healthPort: number;
  const devices: FakeDevice[] = [];

  beforeAll(async () => {
    await stack.start();
    healthPort = await findFreePort();
    await stack.startReceiver({ env: { RECEIVER_HEALTH_PORT: String(healthPort) } });
  }, 60_000);
  afterAll(async () => {
    for (const device of devices) await device.close();
    await stack.dispose();
  });

  it('records the deep entry as rejected, stays healthy, and loses no original reading meanwhile', async () => {
    const receiver = stack.receivers[0]!;
    const db = await stack.database();
    const poison = await FakeDevice.connect(stack.brokerPort, 'dev-poison', stack.login('dev-poison'), 'aaaaaaaaaaaaaaaa');
    const good = await FakeDevice.connect(stack.brokerPort, 'dev-good', stack.login('dev-good'), 'bbbbbbbbbbbbbbbb');
    const old = await FakeDevice.connect(stack.brokerPort, 'old-1', stack.login('old-1'));
    devices.push(poison, good, old);

    // Several in a row: each failure used to double the gate's backoff.
    for (let i = 0; i < 4; i++) {
      const [entry, valid] = poison.entries(2);
      await poison.publish('readings', withValue(poison.batch([{ ...entry!, values: { temperature_celsius: '__VALUE__' } }, valid], `poison-${i}`), nestedJson(6000)));
    }
    await eventually(
      async () => (await db.rejections.listRejections(50)).filter((r) => r.deviceId === 'dev-poison').length >= 4 || receiver.logs().some((r) => r.event === 'database_down'),
      20_000,
      'the poison messages to be handled',
    );
    // Arriving while the gate would be shut: an original device never sends these again.
    const originals = [1, 2, 3].map((i) => ({ _id: `170000000${i}000-0`, _device_uuid: 'old-1', temperature_celsius: `2${i}.5` }));
    await old.publish('values', originals);
    const ack = await good.deliver(good.batch(good.entries(5), 'good-1'));

    expect(ack).toMatchObject({ stored: 5, rejected: 0 });
    await eventually(async () => (await db.readings.countReadings('old-1')) === 3, 20_000, 'the original readings to be stored');
    const rejections = (await db.rejections.listRejections(50)).filter((r) => r.deviceId === 'dev-poison');
    expect(rejections).toHaveLength(4);
    for (const rejection of rejections) expect(rejection).toMatchObject({ reason: 'wrong_shape', detail: expect.stringContaining('deeper than 32 levels'), count: 1 });
    expect(await db.readings.countReadings('dev-poison')).toBe(0);
    const health = await fetch(`http://127.0.0.1:${healthPort}/health`);
    expect(health.status).toBe(200);
    const events = receiver.logs().map((r) => r.event);
    expect(events).not.toContain('database_down');
    expect(events).not.toContain('original_readings_lost');
    expect(receiver.running).toBe(true);
  });

  it('rejects an entry that is deep but within the nesting limit on its own, and stores the rest of its batch', async () => {
    const db = await stack.database();
    const poison = devices[0]!;
    const [bad, valid] = poison.entries(2);
    const ack = await poison.deliver(poison.batch([{ ...bad!, values: { temperature_celsius: JSON.parse(nestedJson(25)) } }, valid], 'deep-but-legal'));
    expect(ack).toMatchObject({ stored: 1, rejected: 1, up_to: valid!.id });
    const [row] = (await db.rejections.listRejections(10)).filter((r) => r.deviceId === 'dev-poison');
    expect(row).toMatchObject({ reason: 'wrong_type', count: 1, detail: expect.stringContaining('values.temperature_celsius') });
    expect(row!.payloadExcerpt).toContain('[[[[');
  });
});
