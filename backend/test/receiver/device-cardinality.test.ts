import { BackendStack } from '@iot/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDevice } from './fake-device.ts';

/** A distinct boot id per number. */
const bootId = (n: number) => n.toString(16).padStart(16, '0');

/**
 * Security review, defect 4: what a device controls must not grow the backend without bound (a
 * reading with 2000 fields, 1400 boots from one device). With the default limits (limits.ts):
 * 64 fields per reading, 256 distinct metrics per device, 60 new boots per device per hour. Going
 * over one is a recorded `limit_exceeded` whose detail names the limit and its env variable. The
 * limits hold across a restart of the receiver: they are counted in the database.
 */
describe('receiver: per-device cardinality limits', () => {
  const stack = new BackendStack({ deviceIds: ['dev-boots', 'dev-metrics'], broker: 'aedes', database: 'sqlite' });
  let boots: FakeDevice;
  let metrics: FakeDevice;
  let streamMs = 1_700_000_000_000;
  const reading = (boot: string, seq: number, values: Record<string, number>) => ({ id: `${++streamMs}-0`, boot, seq, at: streamMs, values });

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    boots = await FakeDevice.connect(stack.brokerPort, 'dev-boots', stack.login('dev-boots'));
    metrics = await FakeDevice.connect(stack.brokerPort, 'dev-metrics', stack.login('dev-metrics'));
  }, 60_000);
  afterAll(async () => {
    await boots?.close();
    await metrics?.close();
    await stack.dispose();
  });

  it('stores 60 of 1400 new boots within the hour and rejects the rest, also after a restart', async () => {
    const db = await stack.database();
    const all = Array.from({ length: 1400 }, (_, i) => reading(bootId(i + 1), 1, { temperature_celsius: 20 }));
    const acks = [];
    for (const [i, part] of [all.slice(0, 500), all.slice(500, 1000), all.slice(1000)].entries()) acks.push(await boots.deliver(boots.batch(part, `boots-${i}`)));
    expect(acks.map((a) => [a.stored, a.rejected])).toEqual([
      [60, 440],
      [0, 500],
      [0, 400],
    ]);
    expect(await db.readings.countReadings('dev-boots')).toBe(60);
    const rows = (await db.rejections.listRejections(100)).filter((r) => r.deviceId === 'dev-boots');
    expect(rows.map((r) => [r.reason, r.count]).sort()).toEqual([
      ['limit_exceeded', 400],
      ['limit_exceeded', 440],
      ['limit_exceeded', 500],
    ]);
    expect(rows[0]!.detail).toMatch(/device dev-boots has started 60 new boots within the last hour, at most 60 \(RECEIVER_MAX_NEW_BOOTS_PER_HOUR\)/);

    // A boot it already has goes on; a new one is refused, by a fresh receiver too.
    await stack.receivers[0]!.kill();
    await stack.startReceiver({ clientId: 'receiver-restarted' });
    const again = await boots.deliver(boots.batch([reading(bootId(1), 2, { temperature_celsius: 21 }), reading(bootId(5000), 1, { temperature_celsius: 21 })], 'boots-after-restart'));
    expect(again).toMatchObject({ stored: 1, rejected: 1 });
  });

  it('refuses a reading with more than 64 fields, and metrics beyond 256 per device', async () => {
    const db = await stack.database();
    const boot = bootId(0xabc);
    const names = (from: number, count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`m${from + i}`, i]));
    const wide = await metrics.deliver(metrics.batch([reading(boot, 1, names(0, 2000)), reading(boot, 2, names(0, 65)), reading(boot, 3, names(0, 64))], 'wide'));
    expect(wide).toMatchObject({ stored: 1, rejected: 2 });
    const [fieldsRow] = (await db.rejections.listRejections(10)).filter((r) => r.deviceId === 'dev-metrics');
    expect(fieldsRow).toMatchObject({ reason: 'limit_exceeded', count: 2, detail: expect.stringContaining('2000 fields; at most 64 (RECEIVER_MAX_FIELDS_PER_READING)') });

    // 64 metrics known; 3 × 64 more make 256; the next new one is refused, a known one is not.
    const more = await metrics.deliver(metrics.batch([reading(boot, 4, names(64, 64)), reading(boot, 5, names(128, 64)), reading(boot, 6, names(192, 64))], 'more'));
    expect(more).toMatchObject({ stored: 3, rejected: 0 });
    const over = await metrics.deliver(metrics.batch([reading(boot, 7, { m0: 1, m300: 2 }), reading(boot, 8, { m255: 3 })], 'over'));
    expect(over).toMatchObject({ stored: 1, rejected: 1 });
    const [metricRow] = (await db.rejections.listRejections(10)).filter((r) => r.deviceId === 'dev-metrics');
    expect(metricRow).toMatchObject({ reason: 'limit_exceeded', count: 1 });
    expect(metricRow!.detail).toMatch(/device dev-metrics has 256 distinct metrics, at most 256 \(RECEIVER_MAX_METRICS_PER_DEVICE\); new metric "m300" refused/);
    expect((await db.readings.listReadings('dev-metrics')).map((r) => r.seq)).toEqual([3, 4, 5, 6, 8]);
  });
});
