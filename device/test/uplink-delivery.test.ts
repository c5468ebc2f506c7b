import { STREAM_KEY } from '@iot/common/protocol';
import { REDIS_KEY } from '../src/redis-keys.ts';
import { RedisServer } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addReadings, BOOT, DEVICE, type ReceivedEntry, type RunningUplink, startUplink, TestBackend, TestBroker, valuesOf } from './uplink-fixtures.ts';

/**
 * The uplink's delivery guarantee (DESIGN.md §2) against a real redis-server, a real aedes broker
 * and a test backend that acks like the receiver: the cursor moves only on acks of its own
 * batches, everything unconfirmed is re-sent, nothing is trimmed before it is confirmed.
 */
describe('uplink delivery', () => {
  const redisServer = new RedisServer();
  const broker = new TestBroker();
  let admin: Redis;
  let backend: TestBackend;
  let running: RunningUplink | undefined;

  beforeAll(async () => {
    await redisServer.start();
    await broker.start();
    admin = new Redis({ host: redisServer.host, port: redisServer.port, retryStrategy: () => 50 });
    admin.on('error', () => {});
  });
  afterAll(async () => {
    admin.disconnect();
    await broker.stop();
    await redisServer.dispose();
  });
  beforeEach(async () => {
    await admin.flushall();
    backend = await new TestBackend().connect(broker.url);
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await backend.close();
  });

  const start = async (env: Record<string, string> = {}, options: { trimEveryMs?: number } = {}) => {
    running = await startUplink(
      { REDIS_HOST: redisServer.host, REDIS_PORT: String(redisServer.port), MQTT_HOST: '127.0.0.1', MQTT_PORT: String(broker.port), ...env },
      options,
    );
    return running;
  };
  const cursor = () => admin.get(REDIS_KEY.senderLastId);
  const cursorAt = (id: string) => eventually(async () => (await cursor()) === `(${id}`, 10_000, `cursor at ${id}`);

  it('publishes readings in order and moves the cursor only after the ack', async () => {
    const ids = await addReadings(admin, 1, 10);
    backend.holding = true;
    const uplink = await start();
    await eventually(() => backend.batches.length >= 1, 5000, 'the first batch');
    expect(backend.batches[0]!.batch).toBe(`${ids[0]}..${ids[9]}`);
    expect(backend.batches[0]!.device).toBe(DEVICE);
    // Published, PUBACKed by the broker, stored by the backend but not yet acknowledged: no move.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await cursor()).toBeNull();
    expect(uplink.logs.find('cursor_advanced')).toHaveLength(0);

    await backend.release();
    await cursorAt(ids[9]!);
    const more = await addReadings(admin, 11, 5);
    await cursorAt(more[4]!);

    const received = [...backend.readings.values()];
    expect(received.map((e) => e.id)).toEqual([...ids, ...more]);
    received.forEach((entry, i) => {
      expect(entry).toEqual({ id: [...ids, ...more][i], boot: BOOT, seq: i + 1, at: 1_700_000_000_000 + i + 1, values: valuesOf(i + 1) });
    });
    expect(uplink.logs.find('batch_acked').map((r) => r.up_to)).toEqual([ids[9], more[4]]);
  });

  it('keeps the cursor without an ack and publishes the same batch again after the ack timeout', async () => {
    const ids = await addReadings(admin, 1, 3);
    backend.ackPolicy = () => false;
    const uplink = await start({ UPLINK_ACK_TIMEOUT_SECONDS: '0.5' });
    await eventually(() => backend.batches.length >= 3, 5000, 'three publications');
    const [first, second] = backend.batches;
    expect(second!.batch).toBe(first!.batch);
    expect(second!.sent_at - first!.sent_at).toBeGreaterThanOrEqual(500);
    expect(await cursor()).toBeNull();
    expect(uplink.logs.find('ack_timeout').length).toBeGreaterThanOrEqual(2);

    backend.ackPolicy = () => true;
    await cursorAt(ids[2]!);
    expect(backend.readings.size).toBe(3);
    expect(backend.duplicates).toBeGreaterThanOrEqual(6);
  });

  it('ignores forged, foreign and stale acks', async () => {
    const ids = await addReadings(admin, 1, 5);
    backend.ackPolicy = () => false;
    const uplink = await start({ UPLINK_ACK_TIMEOUT_SECONDS: '30' });
    await eventually(() => backend.batches.length >= 1, 5000, 'the batch');
    const name = backend.batches[0]!.batch;
    const far = '99999999999999-0';
    await backend.publish('ack', DEVICE, { v: 1, batch: `0-1..${far}`, up_to: far, stored: 5, duplicates: 0, rejected: 0 });
    await backend.publish('ack', DEVICE, { v: 1, batch: name, up_to: far, stored: 5, duplicates: 0, rejected: 0 });
    await backend.publish('ack', DEVICE, 'not json');
    await backend.publish('ack', DEVICE, { v: 1, batch: name });
    await eventually(() => uplink.logs.find('ack_ignored').length >= 4, 5000, 'four ignored acks');
    expect(uplink.logs.find('ack_ignored').map((r) => r.reason)).toEqual(['unknown_batch', 'up_to_mismatch', 'invalid', 'invalid']);
    expect(await cursor()).toBeNull();

    // The real ack moves it; the same ack again, after the cursor went further, is stale.
    await backend.publish('ack', DEVICE, { v: 1, batch: name, up_to: ids[4], stored: 5, duplicates: 0, rejected: 0 });
    await cursorAt(ids[4]!);
    backend.ackPolicy = () => true;
    const more = await addReadings(admin, 6, 3);
    await cursorAt(more[2]!);
    await backend.publish('ack', DEVICE, { v: 1, batch: name, up_to: ids[4], stored: 0, duplicates: 5, rejected: 0 });
    await eventually(() => uplink.logs.find('ack_stale').length >= 1, 5000, 'the stale ack');
    expect(await cursor()).toBe(`(${more[2]}`);
  });

  it('cuts batches at UPLINK_BATCH_MAX_COUNT entries', async () => {
    const ids = await addReadings(admin, 1, 30);
    await start({ UPLINK_BATCH_MAX_COUNT: '7' });
    await cursorAt(ids[29]!);
    expect(backend.batches.map((b) => b.entries.length)).toEqual([7, 7, 7, 7, 2]);
    expect(backend.allIds()).toEqual(ids);
  });

  it('cuts batches so that no payload exceeds UPLINK_BATCH_MAX_BYTES', async () => {
    const ids = await addReadings(admin, 1, 60);
    await start({ UPLINK_BATCH_MAX_BYTES: '2048' });
    await cursorAt(ids[59]!);
    expect(backend.allIds()).toEqual(ids);
    expect(backend.batches.length).toBeGreaterThan(3);
    for (const [i, bytes] of backend.payloadBytes.entries()) {
      expect(bytes).toBeLessThanOrEqual(2048);
      const next = backend.batches[i + 1]?.entries[0];
      // Full batches are full: the next entry (plus its comma) would not have fit, allowing for
      // the longest batch name the size budget reserves (84 characters).
      if (next !== undefined) expect(bytes + JSON.stringify(next).length + 1).toBeGreaterThan(2048 - 84 + backend.batches[i]!.batch.length);
    }
  });

  it('pauses while mqtt_sender:enabled is 0 and resumes when it changes', async () => {
    await admin.set(REDIS_KEY.senderEnabled, '0');
    const ids = await addReadings(admin, 1, 5);
    const uplink = await start();
    await eventually(() => uplink.logs.find('uplink_paused').length === 1, 5000, 'the pause');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(backend.batches).toHaveLength(0);
    await admin.set(REDIS_KEY.senderEnabled, '1');
    await cursorAt(ids[4]!);
    expect(uplink.logs.find('uplink_resumed')).toHaveLength(1);
  });

  it('collects live readings for mqtt_sender:interval, but sends full batches at once', async () => {
    await admin.set(REDIS_KEY.senderInterval, '1.5');
    // About 15 readings arrive per interval: fewer than a full batch.
    await start({ UPLINK_BATCH_MAX_COUNT: '25' });
    let last = '';
    for (let seq = 1; seq <= 30; seq++) {
      last = (await addReadings(admin, seq, 1))[0]!;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await cursorAt(last);
    const live = backend.batches.map((b) => b.sent_at);
    expect(live.length).toBeGreaterThanOrEqual(2);
    expect(live.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < live.length; i++) expect(live[i]! - live[i - 1]!).toBeGreaterThanOrEqual(1500);

    // A backlog of full batches drains without waiting for the interval.
    await admin.set(REDIS_KEY.senderInterval, '30');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = backend.batches.length;
    const startedAt = Date.now();
    const backlog = await addReadings(admin, 31, 251);
    await eventually(async () => (await cursor()) === `(${backlog[249]}`, 10_000, 'the full batches');
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(backend.batches.slice(before, before + 10).map((b) => b.entries.length)).toEqual(Array(10).fill(25));
  });

  it('trims only behind the confirmed cursor and keeps UPLINK_HISTORY confirmed entries', async () => {
    const ids = await addReadings(admin, 1, 100);
    const uplink = await start({ UPLINK_HISTORY: '20', UPLINK_BATCH_MAX_COUNT: '30', UPLINK_STATUS_SECONDS: '1' }, { trimEveryMs: 0 });
    await cursorAt(ids[99]!);
    await eventually(async () => (await admin.xlen(STREAM_KEY)) === 20, 5000, 'the trim to 20 entries');
    expect((await admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual(ids.slice(80));

    // Unconfirmed entries survive every trim (the status trims too, every second).
    backend.ackPolicy = () => false;
    const unconfirmed = await addReadings(admin, 101, 30);
    await eventually(() => uplink.logs.find('status_published').length >= 2, 5000, 'a status (and its trim)');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual([...ids.slice(80), ...unconfirmed]);

    backend.ackPolicy = () => true;
    await cursorAt(unconfirmed[29]!);
    await eventually(async () => (await admin.xlen(STREAM_KEY)) === 20, 5000, 'the second trim');
    expect((await admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual(unconfirmed.slice(10));
    expect(uplink.logs.find('stream_trimmed').length).toBeGreaterThanOrEqual(2);
  });

  it('continues after a cursor already in Redis, in the original format', async () => {
    const ids = await addReadings(admin, 1, 10);
    await admin.set(REDIS_KEY.senderLastId, `(${ids[5]}`);
    await start();
    await cursorAt(ids[9]!);
    expect(backend.allIds()).toEqual(ids.slice(6));
  });

  it('keeps no confirmed entries with UPLINK_HISTORY=0, and every unconfirmed one', async () => {
    const ids = await addReadings(admin, 1, 40);
    await start({ UPLINK_HISTORY: '0' }, { trimEveryMs: 0 });
    await cursorAt(ids[39]!);
    await eventually(async () => (await admin.xlen(STREAM_KEY)) === 0, 5000, 'an empty stream');
    backend.ackPolicy = () => false;
    const unconfirmed = await addReadings(admin, 41, 5);
    await eventually(() => backend.batches.length >= 2, 5000, 'the unacknowledged batch');
    expect((await admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual(unconfirmed);
  });

  it('forwards unparseable entries raw and keeps going', async () => {
    const before = await addReadings(admin, 1, 2);
    const junk = String(await admin.xadd(STREAM_KEY, '*', 'foo', 'bar'));
    const notNumber = String(await admin.xadd(STREAM_KEY, '*', 'temperature_celsius', 'warm', '_boot_id', BOOT, '_seq', '3', '_measured_at', '1'));
    const after = await addReadings(admin, 4, 2);
    const uplink = await start();
    await cursorAt(after[1]!);
    expect(backend.allIds()).toEqual([...before, junk, notNumber, ...after]);
    expect(backend.rejected).toEqual([
      { id: junk, fields: { foo: 'bar' } },
      { id: notNumber, fields: { temperature_celsius: 'warm', _boot_id: BOOT, _seq: '3', _measured_at: '1' } },
    ]);
    expect(uplink.logs.find('entry_unparseable').map((r) => r.id)).toEqual([junk, notNumber]);
    expect([...backend.readings.keys()]).toEqual([`${BOOT}:1`, `${BOOT}:2`, `${BOOT}:4`, `${BOOT}:5`]);
  });

  it('delivers everything when the broker restarts mid-stream', async () => {
    const first = await addReadings(admin, 1, 2000);
    const uplink = await start({ UPLINK_BATCH_MAX_COUNT: '100' });
    await eventually(() => backend.batches.length >= 5, 10_000, 'some batches');
    await broker.stop();
    const duringOutage = await addReadings(admin, 2001, 300);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await broker.start();
    const last = duringOutage[299]!;
    await cursorAt(last);
    const expected = [...first, ...duringOutage];
    expect([...backend.readings.values()].map((e: ReceivedEntry) => e.id).sort()).toEqual([...expected].sort());
    expect(uplink.logs.find('uplink_disconnected').length).toBeGreaterThanOrEqual(1);
    expect(uplink.logs.find('uplink_connected').length).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it('waits out a Redis crash and continues from the durable cursor', async () => {
    const ids = await addReadings(admin, 1, 1500);
    const uplink = await start({ UPLINK_BATCH_MAX_COUNT: '50' });
    await eventually(() => backend.batches.length >= 3, 10_000, 'some batches');
    await redisServer.kill();
    await new Promise((resolve) => setTimeout(resolve, 700));
    await redisServer.start();
    await cursorAt(ids[1499]!);
    expect(backend.readings.size).toBe(1500);
    expect(uplink.logs.find('uplink_redis_error').length).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
