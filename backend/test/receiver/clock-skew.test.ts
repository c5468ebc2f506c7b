import { BackendStack, type DatabaseKind } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import type { ReadingsPage } from '../../src/webadmin/api-routes.ts';
import { WebAdminUnderTest } from '../webadmin/webadmin-harness.ts';
import { FakeDevice } from './fake-device.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const BOOT = 'c10c0c10c0c10c0c';

/**
 * Times that are merely implausible are not lost: a Pi without a real-time clock measures with a
 * clock that is behind until NTP syncs. A reading measured outside the window around its arrival
 * (RECEIVER_CLOCK_SKEW_FUTURE_SECONDS ahead, RECEIVER_CLOCK_SKEW_PAST_DAYS back) is stored with
 * `readings.clock_skew = 1` (docs/protocol.md §10), v1 and original alike; pages and exports
 * still show it. The window is set here (2 min ahead, 10 days back) to show it is configurable.
 */
describe.each<DatabaseKind>(['sqlite', 'mariadb'])('readings with a skewed clock (%s)', (database) => {
  const stack = new BackendStack({ deviceIds: ['dev-skew', 'old-skew'], broker: 'aedes', database });
  let v1: FakeDevice;
  let old: FakeDevice;
  let db: Database;
  const now = Date.now();
  /** Measured-at offsets from now, and whether the reading must be flagged. */
  const TIMES: [string, number, boolean][] = [
    ['now', 0, false],
    ['1 minute ahead', MINUTE, false],
    ['10 minutes ahead', 10 * MINUTE, true],
    ['a week-long outage back', -7 * DAY, false],
    ['11 days back', -11 * DAY, true],
    ['1970, a Pi booted without NTP', -now + 5_000, true],
  ];
  const skewOf = async (deviceId: string) => {
    const rows = await db.sql.read((sql) => sql.rows('SELECT measured_at, clock_skew FROM readings WHERE device_id = ? ORDER BY seq, stream_id', [deviceId]));
    return rows.map((r) => Number(r.clock_skew) === 1);
  };

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver({ env: { RECEIVER_CLOCK_SKEW_FUTURE_SECONDS: '120', RECEIVER_CLOCK_SKEW_PAST_DAYS: '10' } });
    v1 = await FakeDevice.connect(stack.brokerPort, 'dev-skew', stack.login('dev-skew'), BOOT);
    old = await FakeDevice.connect(stack.brokerPort, 'old-skew', stack.login('old-skew'));
    db = await stack.database();
  }, 120_000);
  afterAll(async () => {
    await v1?.close();
    await old?.close();
    await stack.dispose();
  });

  it('stores v1 readings of every time, flagging those outside the window', async () => {
    const entries = TIMES.map(([, offset], i) => ({ id: `${now}-${i}`, boot: BOOT, seq: i + 1, at: now + offset, values: { temperature_celsius: 20 + i } }));
    const ack = await v1.deliver(v1.batch(entries, 'skew'));
    expect(ack).toMatchObject({ stored: TIMES.length, rejected: 0 });
    expect(await skewOf('dev-skew')).toEqual(TIMES.map(([, , flagged]) => flagged));
  });

  it('stores original readings the same way, whether dated by _measured_at or by the stream id', async () => {
    const byField = TIMES.map(([, offset], i) => ({ _id: `${now}-${i}`, _measured_at: String(now + offset), t: String(i) }));
    // Without _measured_at the stream id dates the reading: Redis' clock on the same Pi.
    const byStreamId = { _id: '5000-0', t: '9' };
    await old.publish('values', [...byField, byStreamId]);
    await eventually(async () => (await db.readings.countReadings('old-skew')) === TIMES.length + 1, 30_000, 'every original reading');
    const rows = await db.sql.read((sql) => sql.rows('SELECT stream_id, clock_skew FROM readings WHERE device_id = ?', ['old-skew']));
    const flagged = new Map(rows.map((r) => [String(r.stream_id), Number(r.clock_skew) === 1]));
    expect(TIMES.map((_, i) => flagged.get(`${now}-${i}`))).toEqual(TIMES.map(([, , skewed]) => skewed));
    expect(flagged.get('5000-0')).toBe(true);
  });

  it('never breaks the readings pages or the CSV export with skewed readings', async () => {
    const web = await WebAdminUnderTest.start(db);
    try {
      await db.users.create(`viewer-${database}`, 'viewer-pw', 'viewer');
      const { cookie } = await web.login(`viewer-${database}`, 'viewer-pw');
      for (const device of ['dev-skew', 'old-skew']) {
        const page = await web.fetch(`/api/devices/${device}/readings?order=desc`, { headers: { cookie } });
        expect(page.status).toBe(200);
        expect(((await page.json()) as ReadingsPage).readings).toHaveLength(device === 'dev-skew' ? TIMES.length : TIMES.length + 1);
        const csv = await web.fetch(`/api/devices/${device}/readings.csv`, { headers: { cookie } });
        expect(csv.status).toBe(200);
        expect((await csv.text()).trimEnd().split('\r\n')).toHaveLength(1 + (device === 'dev-skew' ? TIMES.length : TIMES.length + 1));
      }
    } finally {
      await web.close();
    }
  });
});
