import { BackendStack } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDevice } from './fake-device.ts';

/**
 * Security review, defect 3: 3 messages of 129 KB made 30 000 rejection rows (11.6 MB) and 16 s
 * of work, delaying other devices' acks. Now a message makes one row per reason, with the count
 * of its bad entries and a few excerpts; and each device's rejection rows are rate limited, what
 * is held back being counted into one summary row per sweep.
 */
describe('receiver: rejections cannot be amplified', () => {
  const stack = new BackendStack({ deviceIds: ['dev-junk', 'dev-good', 'dev-noisy'], broker: 'aedes', database: 'sqlite' });

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver({ env: { RECEIVER_REJECTIONS_PER_DEVICE_PER_MINUTE: '10', RECEIVER_REJECTION_SWEEP_SECONDS: '1' } });
  }, 60_000);
  afterAll(async () => {
    await stack.dispose();
  });

  it('records a batch of 10 000 bad entries as one row with their count, and keeps acknowledging other devices', async () => {
    const db = await stack.database();
    const junk = await FakeDevice.connect(stack.brokerPort, 'dev-junk', stack.login('dev-junk'));
    const good = await FakeDevice.connect(stack.brokerPort, 'dev-good', stack.login('dev-good'), 'dddddddddddddddd');
    try {
      const entries = Array.from({ length: 10_000 }, () => ({ seq: 'x' }));
      const payloads = [1, 2, 3].map((i) => JSON.stringify(junk.batch(entries, `junk-${i}`)));
      expect(Buffer.byteLength(payloads[0]!)).toBeGreaterThan(120_000);
      for (const payload of payloads) await junk.publish('readings', payload);
      const acks = await Promise.all([1, 2, 3].map((i) => good.deliver(good.batch(good.entries(10), `good-${i}`))));
      expect(acks.map((a) => a.stored)).toEqual([10, 10, 10]);

      const junkAcks = await eventually(() => (junk.acks.length === 3 ? junk.acks : undefined), 30_000, 'the junk batches to be acknowledged');
      // Rejected entries count as consumed, so the device can move on; none has a stream id, so up_to stays 0-0.
      for (const ack of junkAcks) expect(ack).toMatchObject({ stored: 0, rejected: 10_000, up_to: '0-0' });
      const rows = (await db.rejections.listRejections(100)).filter((r) => r.deviceId === 'dev-junk');
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        expect(row).toMatchObject({ reason: 'wrong_shape', count: 10_000, payloadBytes: Buffer.byteLength(payloads[0]!) });
        expect(row.detail).toMatch(/^10000 of 10000 entries rejected as wrong_shape; the first: /);
        expect(row.detail.length).toBeLessThanOrEqual(1000);
        expect(row.payloadExcerpt).toBe('[{"seq":"x"},{"seq":"x"},{"seq":"x"}]');
      }
      expect(await db.readings.countReadings('dev-good')).toBe(30);
    } finally {
      await junk.close();
      await good.close();
    }
  });

  it('rate-limits a noisy device\'s rows and counts the rest into a summary row', async () => {
    const db = await stack.database();
    const noisy = await FakeDevice.connect(stack.brokerPort, 'dev-noisy', stack.login('dev-noisy'));
    try {
      for (let i = 0; i < 50; i++) await noisy.publish('readings', `{"v":1,"noise":${i},`);
      const rows = await eventually(
        async () => {
          const found = (await db.rejections.listRejections(1000)).filter((r) => r.deviceId === 'dev-noisy');
          return found.reduce((sum, r) => sum + r.count, 0) === 50 ? found : undefined;
        },
        20_000,
        'all 50 rejections to be accounted for',
      );
      const single = rows.filter((r) => r.reason === 'not_json');
      const summaries = rows.filter((r) => r.reason === 'rate_limited');
      // A burst of the per-minute rate passes (a little more may have refilled meanwhile); the rest is summarised.
      expect(single.length).toBeGreaterThanOrEqual(10);
      expect(single.length).toBeLessThan(50);
      expect(summaries.length).toBeGreaterThanOrEqual(1);
      expect(summaries[0]!.detail).toMatch(/rejections of device dev-noisy between .* are counted here, not recorded one by one: more than 10 a minute \(RECEIVER_REJECTIONS_PER_DEVICE_PER_MINUTE\)\. By reason: not_json \d+/);
      expect(single.length + summaries.reduce((sum, r) => sum + r.count, 0)).toBe(50);
    } finally {
      await noisy.close();
    }
  });
});
