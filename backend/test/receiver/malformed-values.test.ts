import { BackendStack } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RejectionRecord } from '../../src/db/index.ts';
import { FakeDevice } from './fake-device.ts';

const BOOT = 'cccccccccccccccc';

/**
 * Security review, defect 2: malformed values were stored or coerced. Each has a precise rule and
 * a recorded rejection; the receiver never coerces. Times that are merely implausible are stored.
 * Everything goes through a real broker into a real receiver process and SQLite.
 */
describe('receiver: malformed values are rejected with a reason, never coerced', () => {
  const stack = new BackendStack({ deviceIds: ['dev-v1', 'old-2'], broker: 'aedes', database: 'sqlite' });
  let v1: FakeDevice;
  let old: FakeDevice;

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    v1 = await FakeDevice.connect(stack.brokerPort, 'dev-v1', stack.login('dev-v1'), BOOT);
    old = await FakeDevice.connect(stack.brokerPort, 'old-2', stack.login('old-2'));
  }, 60_000);
  afterAll(async () => {
    await v1?.close();
    await old?.close();
    await stack.dispose();
  });

  /** The one rejection row whose excerpt names `marker` (a stream id or a batch name unique to the case). */
  async function rejectionOf(marker: string): Promise<RejectionRecord> {
    const db = await stack.database();
    return eventually(async () => (await db.rejections.listRejections(1000)).find((r) => r.payloadExcerpt.includes(marker)), 10_000, `the rejection of ${marker}`);
  }

  it('rejects v1 entries whose numbers cannot be held exactly, whose times no date can hold, or that go over a limit; stores implausible times', async () => {
    const db = await stack.database();
    const entry = (id: string, fields: Record<string, unknown>) => ({ id, boot: BOOT, seq: 1, at: 1_700_000_000_000, values: { temperature_celsius: 21.5 }, ...fields });
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['1800000000001-0', { seq: 1e300 }, 'out_of_range', /seq: Too big/],
      ['1800000000002-0', { seq: 2_147_483_648 }, 'out_of_range', /sequence number 2147483648 is beyond what the database holds/],
      ['1800000000003-0', { at: 8_640_000_000_000_001 }, 'out_of_range', /at: is later than any date can be/],
      ['1800000000004-0', { values: { temperature_celsius: '0x1A' } }, 'wrong_type', /expected number, received string/],
      ['1800000000005-0', { values: { temperature_celsius: ' 12 ' } }, 'wrong_type', /expected number, received string/],
      ['1800000000006-0', { values: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`f${i}`, i])) }, 'limit_exceeded', /2000 fields; at most 64 \(RECEIVER_MAX_FIELDS_PER_READING\)/],
    ];
    // 9007199254740993 cannot be written from JavaScript: JSON.parse would make it …992.
    const exact = '{"id":"1800000000007-0","boot":"cccccccccccccccc","seq":9007199254740993,"at":1,"values":{"t":1}}';
    const batches = [
      ...cases.map(([id, fields], i) => JSON.stringify(v1.batch([entry(id, { seq: i + 1, ...fields })], `v1-${id}`))),
      JSON.stringify(v1.batch(['__EXACT__'], 'v1-1800000000007-0')).replace('"__EXACT__"', exact),
    ];
    for (const batch of batches) await v1.publish('readings', batch);
    for (const [id, , reason, detail] of [...cases, ['1800000000007-0', {}, 'out_of_range', /seq: Too big/] as const]) {
      const ack = await eventually(() => v1.acks.find((a) => a.batch === `v1-${id}`), 10_000, `the ack of ${id}`);
      expect(ack, id).toMatchObject({ stored: 0, rejected: 1, up_to: id });
      const row = await rejectionOf(id);
      expect(row.reason, id).toBe(reason);
      expect(row.detail, id).toMatch(detail);
      expect(row.count, id).toBe(1);
    }
    const implausible = [entry('1800000000008-0', { seq: 100, at: 0 }), entry('1800000000009-0', { seq: 101, at: 7_258_118_400_000 })];
    expect(await v1.deliver(v1.batch(implausible, 'v1-implausible'))).toMatchObject({ stored: 2, rejected: 0 });
    const stored = await db.readings.listReadings('dev-v1');
    expect(stored.map((r) => [r.seq, r.measuredAt])).toEqual([
      [100, 0],
      [101, 7_258_118_400_000],
    ]);
  });

  it('rejects a v1 batch that says who the device is in more characters than the columns hold, or in invalid UTF-8', async () => {
    const db = await stack.database();
    await v1.publish('readings', { ...v1.batch(v1.entries(1), 'meta-20000'), meta: { device_type: 'x'.repeat(20_000) } });
    expect(await rejectionOf('meta-20000')).toMatchObject({ reason: 'wrong_shape', detail: expect.stringContaining('meta.device_type') });
    const payload = Buffer.from(JSON.stringify(v1.batch(v1.entries(1), 'utf8-bad')).replace('temperature_celsius', 'temperature_\u00ff'), 'latin1');
    await v1.publish('readings', payload);
    expect(await rejectionOf('utf8-bad')).toMatchObject({ reason: 'not_utf8', detail: expect.stringContaining('not valid UTF-8') });
    expect(v1.acks.find((a) => a.batch === 'meta-20000' || a.batch === 'utf8-bad')).toBeUndefined();
    expect((await db.devices.getDevice('dev-v1'))?.deviceType ?? null).toBeNull();
  });

  it('rejects original-format values, names and times element by element, and stores the good elements', async () => {
    const db = await stack.database();
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ _id: '1900000000001-0', t: 'n/a\u0007' }, 'wrong_type', /t: the text value .* contains a control character/],
      [{ _id: '1900000000002-0', t: 'x'.repeat(257) }, 'wrong_type', /t: a text value of 257 characters; at most 256/],
      [{ _id: '1900000000003-0', _boot_id: BOOT, _seq: 'x', t: '1' }, 'wrong_type', /_seq "x" is not a non-negative whole number/],
      [{ _id: '1900000000004-0', _boot_id: BOOT, _seq: '1e300', t: '1' }, 'wrong_type', /_seq "1e300" is not/],
      [{ _id: '1900000000005-0', _boot_id: BOOT, _seq: '9007199254740993', t: '1' }, 'out_of_range', /too large to hold exactly/],
      [{ _id: '1900000000006-0', '<img src=x onerror=alert(1)>': '1' }, 'wrong_shape', /is not a name for sensor values/],
      [{ _id: '1900000000007-0', 'temp\u0007': '1' }, 'wrong_shape', /is not a name for sensor values/],
      [{ _id: '1900000000008-0', [`t${'x'.repeat(4999)}`]: '1' }, 'wrong_shape', /\(it has 5000\)/],
      [{ _id: '1900000000009-0', _device_type: 'x'.repeat(20_000), t: '1' }, 'wrong_shape', /_device_type: Too big/],
      [{ _id: '1900000000010-0', _measured_at: '1e300', t: '1' }, 'wrong_type', /_measured_at "1e300" is not/],
      [{ _id: '1900000000011-0', _measured_at: '9000000000000000', t: '1' }, 'out_of_range', /later than any date can be/],
      [{ _id: '9000000000000000-0', t: '1' }, 'out_of_range', /stream id's time is later than any date/],
    ];
    const implausible = { _id: '1900000000012-0', _measured_at: '0', t: '5' };
    const good = { _id: '1900000000013-0', _device_type: 'raspberrypi3', t: '21.5' };
    // Not numbers by the strict grammar, so text as given (docs/protocol.md §9), never 26 or 12.
    const hex = { _id: '1900000000014-0', t: '0x1A' };
    const blanks = { _id: '1900000000015-0', t: ' 12 ' };
    for (const [element] of cases) await old.publish('values', [element]);
    await old.publish('values', [implausible, good, hex, blanks]);

    for (const [element, reason, detail] of cases) {
      const row = await rejectionOf(element._id!);
      expect(row.reason, element._id).toBe(reason);
      expect(row.detail, element._id).toMatch(detail);
    }
    await eventually(async () => (await db.readings.countReadings('old-2')) === 4, 10_000, 'the four good elements');
    const stored = await db.readings.listReadings('old-2');
    expect(stored.map((r) => [r.key, r.measuredAt, r.values])).toEqual([
      ['s:1900000000012-0', 0, { t: 5 }],
      ['s:1900000000013-0', 1_900_000_000_013, { t: 21.5 }],
      ['s:1900000000014-0', 1_900_000_000_014, { t: '0x1A' }],
      ['s:1900000000015-0', 1_900_000_000_015, { t: ' 12 ' }],
    ]);
    expect((await db.devices.getDevice('old-2'))?.deviceType).toBe('raspberrypi3');
  });

  it('rejects an original message in invalid UTF-8 instead of storing U+FFFD', async () => {
    const db = await stack.database();
    const payload = Buffer.concat([Buffer.from('[{"_id":"1950000000000-0","_app_name":"caf'), Buffer.from([0xe9]), Buffer.from('","t":"1"}]')]);
    await old.publish('values', payload);
    expect(await rejectionOf('1950000000000-0')).toMatchObject({ reason: 'not_utf8' });
    expect((await db.readings.readingKeys('old-2')).filter((k) => k.includes('1950000000000'))).toEqual([]);
  });
});
