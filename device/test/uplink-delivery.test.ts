import { STREAM_KEY } from '@iot/common/protocol';
import { eventually, holdsFor, ManualClock } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { REDIS_KEY } from '@iot/common/protocol';
import { useRedisAndBroker } from './redis-and-broker.ts';
import { addReadings, BOOT, DEVICE, type ReceivedEntry, valuesOf } from './uplink-fixtures.ts';

/**
 * The uplink's delivery guarantee (docs/delivery-guarantee.md §1–§4) against a real redis-server, a real aedes broker
 * and a test backend that acks like the receiver: the cursor moves only on acks of its own
 * batches, everything unconfirmed is re-sent, nothing is trimmed before it is confirmed.
 */
describe('uplink delivery', () => {
  const bed = useRedisAndBroker({ backend: true });
  const cursor = () => bed.admin.get(REDIS_KEY.senderLastId);
  const cursorAt = (id: string) => eventually(async () => (await cursor()) === `(${id}`, 10_000, `cursor at ${id}`);
  /** Online means subscribed: the status goes out once the subscriptions are granted. */
  const online = () => eventually(() => bed.backend.statuses.find((s) => s.online), 5000, 'the uplink online');

  it('publishes readings in order and moves the cursor only after the ack', async () => {
    const ids = await addReadings(bed.admin, 1, 10);
    bed.backend.holding = true;
    const uplink = await bed.startUplink();
    await eventually(() => bed.backend.batches.length >= 1, 5000, 'the first batch');
    expect(bed.backend.batches[0]!.batch).toBe(`${ids[0]}..${ids[9]}`);
    expect(bed.backend.batches[0]!.device).toBe(DEVICE);
    // Published, PUBACKed by the broker, stored by the backend but not yet acknowledged: no move.
    await holdsFor(async () => (await cursor()) === null && uplink.logs.find('cursor_advanced').length === 0, 300, 'the cursor staying put without an ack');

    await bed.backend.release();
    await cursorAt(ids[9]!);
    const more = await addReadings(bed.admin, 11, 5);
    await cursorAt(more[4]!);

    const received = [...bed.backend.readings.values()];
    expect(received.map((e) => e.id)).toEqual([...ids, ...more]);
    received.forEach((entry, i) => {
      expect(entry).toEqual({ id: [...ids, ...more][i], boot: BOOT, seq: i + 1, at: 1_700_000_000_000 + i + 1, values: valuesOf(i + 1) });
    });
    expect(uplink.logs.find('batch_acked').map((r) => r.up_to)).toEqual([ids[9], more[4]]);
  });

  it('keeps the cursor without an ack and publishes the same batch again after the ack timeout', async () => {
    const ids = await addReadings(bed.admin, 1, 3);
    bed.backend.ackPolicy = () => false;
    // Device time moves only when the test moves it, so "after the timeout" is exact, however loaded the machine.
    const clock = new ManualClock();
    const uplink = await bed.startUplink({ UPLINK_ACK_TIMEOUT_SECONDS: '0.5' }, { clock });
    await clock.advanceUntil(() => bed.backend.batches.length >= 3, 100, 'three publications');
    const [first, second, third] = bed.backend.batches;
    expect([second!.batch, third!.batch]).toEqual([first!.batch, first!.batch]);
    // Each publication waited out the ack timeout of the one before, on the uplink's own clock.
    expect(second!.sent_at - first!.sent_at).toBeGreaterThanOrEqual(500);
    expect(third!.sent_at - second!.sent_at).toBeGreaterThanOrEqual(500);
    expect(await cursor()).toBeNull();
    expect(uplink.logs.find('ack_timeout').length).toBeGreaterThanOrEqual(2);

    bed.backend.ackPolicy = () => true;
    await clock.advanceUntil(async () => (await cursor()) === `(${ids[2]}`, 100, 'the cursor at the last reading');
    expect(bed.backend.readings.size).toBe(3);
    expect(bed.backend.duplicates).toBeGreaterThanOrEqual(6);
  });

  it('ignores forged, foreign and stale acks', async () => {
    const ids = await addReadings(bed.admin, 1, 5);
    bed.backend.ackPolicy = () => false;
    const uplink = await bed.startUplink({ UPLINK_ACK_TIMEOUT_SECONDS: '30' });
    await eventually(() => bed.backend.batches.length >= 1, 5000, 'the batch');
    const name = bed.backend.batches[0]!.batch;
    const far = '99999999999999-0';
    await bed.backend.publish('ack', DEVICE, { v: 1, batch: `0-1..${far}`, up_to: far, stored: 5, duplicates: 0, rejected: 0 });
    await bed.backend.publish('ack', DEVICE, { v: 1, batch: name, up_to: far, stored: 5, duplicates: 0, rejected: 0 });
    await bed.backend.publish('ack', DEVICE, 'not json');
    await bed.backend.publish('ack', DEVICE, { v: 1, batch: name });
    await eventually(() => uplink.logs.find('ack_ignored').length >= 4, 5000, 'four ignored acks');
    expect(uplink.logs.find('ack_ignored').map((r) => r.reason)).toEqual(['unknown_batch', 'up_to_mismatch', 'invalid', 'invalid']);
    expect(await cursor()).toBeNull();

    // The real ack moves it; the same ack again, after the cursor went further, is stale.
    await bed.backend.publish('ack', DEVICE, { v: 1, batch: name, up_to: ids[4], stored: 5, duplicates: 0, rejected: 0 });
    await cursorAt(ids[4]!);
    bed.backend.ackPolicy = () => true;
    const more = await addReadings(bed.admin, 6, 3);
    await cursorAt(more[2]!);
    await bed.backend.publish('ack', DEVICE, { v: 1, batch: name, up_to: ids[4], stored: 0, duplicates: 5, rejected: 0 });
    await eventually(() => uplink.logs.find('ack_stale').length >= 1, 5000, 'the stale ack');
    expect(await cursor()).toBe(`(${more[2]}`);
  });

  it('cuts batches at UPLINK_BATCH_MAX_COUNT entries', async () => {
    const ids = await addReadings(bed.admin, 1, 30);
    await bed.startUplink({ UPLINK_BATCH_MAX_COUNT: '7' });
    await cursorAt(ids[29]!);
    expect(bed.backend.batches.map((b) => b.entries.length)).toEqual([7, 7, 7, 7, 2]);
    expect(bed.backend.allIds()).toEqual(ids);
  });

  it('cuts batches so that no payload exceeds UPLINK_BATCH_MAX_BYTES', async () => {
    const ids = await addReadings(bed.admin, 1, 60);
    await bed.startUplink({ UPLINK_BATCH_MAX_BYTES: '2048' });
    await cursorAt(ids[59]!);
    expect(bed.backend.allIds()).toEqual(ids);
    expect(bed.backend.batches.length).toBeGreaterThan(3);
    for (const [i, bytes] of bed.backend.payloadBytes.entries()) {
      expect(bytes).toBeLessThanOrEqual(2048);
      const next = bed.backend.batches[i + 1]?.entries[0];
      // Full batches are full: the next entry (plus its comma) would not have fit, allowing for
      // the longest batch name the size budget reserves (84 characters).
      if (next !== undefined) expect(bytes + JSON.stringify(next).length + 1).toBeGreaterThan(2048 - 84 + bed.backend.batches[i]!.batch.length);
    }
  });

  it('pauses while mqtt_sender:enabled is 0 and resumes when it changes', async () => {
    await bed.admin.set(REDIS_KEY.senderEnabled, '0');
    const ids = await addReadings(bed.admin, 1, 5);
    const uplink = await bed.startUplink();
    await eventually(() => uplink.logs.find('uplink_paused').length === 1, 5000, 'the pause');
    // Longer than the sender's settings poll (1 s): it looked again and still sent nothing.
    await holdsFor(() => bed.backend.batches.length === 0, 1500, 'no batch while paused');
    await bed.admin.set(REDIS_KEY.senderEnabled, '1');
    await cursorAt(ids[4]!);
    expect(uplink.logs.find('uplink_resumed')).toHaveLength(1);
  });

  it('collects live readings for mqtt_sender:interval instead of sending each at once', async () => {
    await bed.admin.set(REDIS_KEY.senderInterval, '1.5');
    const clock = new ManualClock();
    // The ack timeout lies far beyond the 3 s this test spans on the uplink's clock: nothing is re-sent.
    await bed.startUplink({ UPLINK_BATCH_MAX_COUNT: '25', UPLINK_ACK_TIMEOUT_SECONDS: '60' }, { clock });
    await online();
    // Nothing was sent before, so the first reading goes alone and at once.
    const ids = await addReadings(bed.admin, 1, 1);
    await cursorAt(ids[0]!);
    // Then one reading per 100 ms of device time: 15 per interval, fewer than a full batch.
    for (let seq = 2; seq <= 30; seq++) {
      clock.advance(100);
      ids.push(...(await addReadings(bed.admin, seq, 1)));
    }
    await clock.advanceUntil(async () => (await cursor()) === `(${ids[29]}`, 100, 'the last reading confirmed');
    expect([...bed.backend.readings.values()].map((e) => e.id)).toEqual(ids);
    const sentAt = bed.backend.batches.map((b) => b.sent_at);
    expect(bed.backend.batches[0]!.entries).toHaveLength(1);
    // At most one batch per started interval: the readings of the last 2.9 s went in two more.
    expect(sentAt.length).toBeGreaterThanOrEqual(2);
    expect(sentAt.length).toBeLessThanOrEqual(3);
    for (let i = 1; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 1]!).toBeGreaterThanOrEqual(1500);
  });

  it('sends full batches at once, without waiting for mqtt_sender:interval', async () => {
    await bed.admin.set(REDIS_KEY.senderInterval, '30');
    const clock = new ManualClock();
    await bed.startUplink({ UPLINK_BATCH_MAX_COUNT: '25', UPLINK_ACK_TIMEOUT_SECONDS: '60' }, { clock });
    await online();
    const first = await addReadings(bed.admin, 1, 1);
    await cursorAt(first[0]!);
    // The clock stands still from here on: a batch that waited for the 30 s interval could never go.
    const backlog = await addReadings(bed.admin, 2, 251);
    await cursorAt(backlog[249]!);
    expect(bed.backend.batches.slice(1).map((b) => b.entries.length)).toEqual(Array(10).fill(25));
    // The one reading left over is not a full batch: it goes when the interval is up.
    expect(bed.backend.allIds()).not.toContain(backlog[250]);
    // Step the clock rather than jump it: the sender reads the time before an await and then
    // sleeps up to a second, so a jump landing in between would leave it asleep past the new time.
    await clock.advanceUntil(() => bed.backend.allIds().includes(backlog[250]!), 1_000, 'the leftover reading to go once the interval is up');
    await cursorAt(backlog[250]!);
    const [lastFull, leftover] = bed.backend.batches.slice(-2);
    expect(leftover!.entries.length).toBe(1);
    expect(leftover!.sent_at - lastFull!.sent_at).toBeGreaterThanOrEqual(30_000);
  });

  it('trims only behind the confirmed cursor and keeps UPLINK_HISTORY confirmed entries', async () => {
    const ids = await addReadings(bed.admin, 1, 100);
    const uplink = await bed.startUplink({ UPLINK_HISTORY: '20', UPLINK_BATCH_MAX_COUNT: '30', UPLINK_STATUS_SECONDS: '1' }, { trimEveryMs: 0 });
    await cursorAt(ids[99]!);
    await eventually(async () => (await bed.admin.xlen(STREAM_KEY)) === 20, 5000, 'the trim to 20 entries');
    expect((await bed.admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual(ids.slice(80));

    // Unconfirmed entries survive every trim (the status trims too, every second): wait for a
    // status whose trim-and-measure counted all 30 as backlog, so a trim ran while they were there.
    bed.backend.ackPolicy = () => false;
    const unconfirmed = await addReadings(bed.admin, 101, 30);
    await eventually(() => uplink.logs.find('status_published').some((r) => r.backlog === 30), 8000, 'a status (and its trim) counting the unconfirmed entries');
    expect((await bed.admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual([...ids.slice(80), ...unconfirmed]);

    bed.backend.ackPolicy = () => true;
    await cursorAt(unconfirmed[29]!);
    await eventually(async () => (await bed.admin.xlen(STREAM_KEY)) === 20, 5000, 'the second trim');
    expect((await bed.admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual(unconfirmed.slice(10));
    expect(uplink.logs.find('stream_trimmed').length).toBeGreaterThanOrEqual(2);
  });

  it('continues after a cursor already in Redis, in the original format', async () => {
    const ids = await addReadings(bed.admin, 1, 10);
    await bed.admin.set(REDIS_KEY.senderLastId, `(${ids[5]}`);
    await bed.startUplink();
    await cursorAt(ids[9]!);
    expect(bed.backend.allIds()).toEqual(ids.slice(6));
  });

  it('keeps no confirmed entries with UPLINK_HISTORY=0, and every unconfirmed one', async () => {
    const ids = await addReadings(bed.admin, 1, 40);
    await bed.startUplink({ UPLINK_HISTORY: '0' }, { trimEveryMs: 0 });
    await cursorAt(ids[39]!);
    await eventually(async () => (await bed.admin.xlen(STREAM_KEY)) === 0, 5000, 'an empty stream');
    bed.backend.ackPolicy = () => false;
    const unconfirmed = await addReadings(bed.admin, 41, 5);
    await eventually(() => bed.backend.batches.length >= 2, 5000, 'the unacknowledged batch');
    expect((await bed.admin.xrange(STREAM_KEY, '-', '+')).map(([id]) => id)).toEqual(unconfirmed);
  });

  it('forwards unparseable entries raw and keeps going', async () => {
    const before = await addReadings(bed.admin, 1, 2);
    const junk = String(await bed.admin.xadd(STREAM_KEY, '*', 'foo', 'bar'));
    const notNumber = String(await bed.admin.xadd(STREAM_KEY, '*', 'temperature_celsius', 'warm', '_boot_id', BOOT, '_seq', '3', '_measured_at', '1'));
    const after = await addReadings(bed.admin, 4, 2);
    const uplink = await bed.startUplink();
    await cursorAt(after[1]!);
    expect(bed.backend.allIds()).toEqual([...before, junk, notNumber, ...after]);
    expect(bed.backend.rejected).toEqual([
      { id: junk, fields: { foo: 'bar' } },
      { id: notNumber, fields: { temperature_celsius: 'warm', _boot_id: BOOT, _seq: '3', _measured_at: '1' } },
    ]);
    expect(uplink.logs.find('entry_unparseable').map((r) => r.id)).toEqual([junk, notNumber]);
    expect([...bed.backend.readings.keys()]).toEqual([`${BOOT}:1`, `${BOOT}:2`, `${BOOT}:4`, `${BOOT}:5`]);
  });

  it('delivers everything when the broker restarts mid-stream', async () => {
    const first = await addReadings(bed.admin, 1, 2000);
    const uplink = await bed.startUplink({ UPLINK_BATCH_MAX_COUNT: '100' });
    await eventually(() => bed.backend.batches.length >= 5, 10_000, 'some batches');
    await bed.broker.stop();
    const duringOutage = await addReadings(bed.admin, 2001, 300);
    // Back only once the uplink noticed the outage, so it really reconnects.
    await eventually(() => uplink.logs.find('uplink_disconnected').length >= 1, 10_000, 'the uplink noticing the outage');
    await bed.broker.start();
    const last = duringOutage[299]!;
    await cursorAt(last);
    const expected = [...first, ...duringOutage];
    expect([...bed.backend.readings.values()].map((e: ReceivedEntry) => e.id).sort()).toEqual([...expected].sort());
    expect(uplink.logs.find('uplink_connected').length).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it('waits out a Redis crash and continues from the durable cursor', async () => {
    const ids = await addReadings(bed.admin, 1, 1500);
    const uplink = await bed.startUplink({ UPLINK_BATCH_MAX_COUNT: '50' });
    await eventually(() => bed.backend.batches.length >= 3, 10_000, 'some batches');
    await bed.redis.kill();
    await eventually(() => uplink.logs.find('uplink_redis_error').length >= 1, 10_000, 'the uplink noticing the crash');
    await bed.redis.start();
    await cursorAt(ids[1499]!);
    expect(bed.backend.readings.size).toBe(1500);
  }, 40_000);
});
