import { REDIS_KEY } from '@iot/common/protocol';
import { eventually, holdsFor, ManualClock } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { useRedisAndBroker } from './redis-and-broker.ts';
import { addReadings } from './uplink-fixtures.ts';

/**
 * Several batches in flight (docs/delivery-guarantee.md §1, §3) against a real redis-server and a
 * real broker: acks in any order, the cursor only over the acknowledged prefix, re-sends after a
 * lost ack, and adaptive batching while batches are in flight.
 */
describe('uplink window', () => {
  const bed = useRedisAndBroker({ backend: true });
  const cursor = () => bed.admin.get(REDIS_KEY.senderLastId);
  const cursorAt = (id: string) => eventually(async () => (await cursor()) === `(${id}`, 10_000, `cursor at ${id}`);
  const online = () => eventually(() => bed.backend.statuses.find((s) => s.online), 5000, 'the uplink online');

  it('keeps up to UPLINK_WINDOW batches in flight, each read right after the one before', async () => {
    const ids = await addReadings(bed.admin, 1, 50);
    bed.backend.holding = true;
    await bed.startUplink({ UPLINK_WINDOW: '3', UPLINK_BATCH_MAX_COUNT: '5', UPLINK_ACK_TIMEOUT_SECONDS: '60' });
    await eventually(() => bed.backend.batches.length >= 3, 5000, 'three batches');
    // No ack came: a fourth batch would overfill the window.
    await holdsFor(() => bed.backend.batches.length === 3, 300, 'no fourth batch while three wait for acks');
    expect(bed.backend.batches.map((b) => b.batch)).toEqual([`${ids[0]}..${ids[4]}`, `${ids[5]}..${ids[9]}`, `${ids[10]}..${ids[14]}`]);
    expect(await cursor()).toBeNull();
  });

  it('moves the cursor only when the acks of every earlier batch have come, in whatever order they come', async () => {
    // 16: three full batches of 5, and one more reading, so the third is full too (a part batch would wait).
    const ids = await addReadings(bed.admin, 1, 16);
    bed.backend.holding = true;
    const uplink = await bed.startUplink({ UPLINK_WINDOW: '3', UPLINK_BATCH_MAX_COUNT: '5', UPLINK_ACK_TIMEOUT_SECONDS: '60' });
    await eventually(() => bed.backend.held.length >= 3, 5000, 'three batches stored');
    const [first, second, third] = bed.backend.held.splice(0);
    await bed.backend.publish('ack', third!.deviceId, third!.ack);
    await bed.backend.publish('ack', second!.deviceId, second!.ack);
    await eventually(() => uplink.logs.find('ack_early').length >= 2, 5000, 'both acks kept until the first one comes');
    expect(await cursor()).toBeNull();
    await bed.backend.publish('ack', first!.deviceId, first!.ack);
    await cursorAt(ids[14]!);
    expect(uplink.logs.find('cursor_advanced').map((r) => r.to)).toEqual([ids[14]]);
  });

  it('after a lost ack publishes only the batch whose ack was lost, not those acknowledged meanwhile', async () => {
    const ids = await addReadings(bed.admin, 1, 16);
    let dropped = false;
    // The receiver stores the first batch but its ack is lost, once.
    bed.backend.ackPolicy = (batch) => {
      if (dropped || !batch.batch.startsWith(`${ids[0]}..`)) return true;
      dropped = true;
      return false;
    };
    const clock = new ManualClock();
    const uplink = await bed.startUplink({ UPLINK_WINDOW: '3', UPLINK_BATCH_MAX_COUNT: '5', UPLINK_ACK_TIMEOUT_SECONDS: '1' }, { clock });
    await eventually(() => uplink.logs.find('ack_early').length >= 2, 5000, 'the acks of the second and third batch');
    await clock.advanceUntil(async () => (await cursor()) === `(${ids[15]}`, 100, 'the cursor at the last reading');
    expect(bed.backend.batches.map((b) => b.batch)).toEqual([
      `${ids[0]}..${ids[4]}`,
      `${ids[5]}..${ids[9]}`,
      `${ids[10]}..${ids[14]}`,
      `${ids[0]}..${ids[4]}`,
      `${ids[15]}..${ids[15]}`,
    ]);
    expect(uplink.logs.find('ack_timeout')).toHaveLength(1);
    expect(bed.backend.duplicates).toBe(5);
  });

  it('without mqtt_sender:interval sends a reading at once when idle, and collects readings while a batch is in flight', async () => {
    bed.backend.holding = true;
    // Device time never moves in this test: nothing here may wait for an interval or a timeout.
    const clock = new ManualClock();
    const uplink = await bed.startUplink({ UPLINK_WINDOW: '4', UPLINK_BATCH_MAX_COUNT: '50', UPLINK_ACK_TIMEOUT_SECONDS: '60' }, { clock });
    await online();
    const ids = await addReadings(bed.admin, 1, 1);
    await eventually(() => bed.backend.batches.length === 1, 5000, 'the first reading sent alone');
    ids.push(...(await addReadings(bed.admin, 2, 5)));
    await holdsFor(() => bed.backend.batches.length === 1, 300, 'no part batch while one is in flight');
    await bed.backend.release();
    await cursorAt(ids[5]!);
    expect(bed.backend.batches.map((b) => b.entries.length)).toEqual([1, 5]);
    expect(uplink.logs.find('ack_timeout')).toHaveLength(0);
  });

  it('ignores an ack of a batch read before Redis reconnected, and sends that stretch again', async () => {
    const ids = await addReadings(bed.admin, 1, 5);
    bed.backend.holding = true;
    const uplink = await bed.startUplink({ UPLINK_WINDOW: '2', UPLINK_ACK_TIMEOUT_SECONDS: '60' });
    await eventually(() => bed.backend.held.length >= 1, 5000, 'the batch stored');
    const [stale] = bed.backend.held.splice(0);
    // Paused across the restart, so the stretch is not published again (under the same name)
    // before the old ack arrives: that ack must count for nothing in the new epoch.
    await bed.admin.set(REDIS_KEY.senderEnabled, '0');
    await eventually(() => uplink.logs.find('uplink_paused').length >= 1, 10_000, 'sending paused');
    // A clean restart (SIGTERM: Redis writes its AOF), so the stream keeps every reading.
    await bed.redis.stop();
    await bed.redis.start();
    // The shared connection up again: from its 'ready' on, the uplink treats what it read before as stale.
    const sharedUp = () => uplink.logs.find('redis_up').filter((r) => r.connection !== 'blocking-read').length;
    await eventually(() => sharedUp() >= 2, 10_000, 'the uplink reconnected to Redis');
    await bed.backend.publish('ack', stale!.deviceId, stale!.ack);
    await eventually(() => uplink.logs.find('ack_stale').some((r) => r.reason === 'redis_reconnected'), 10_000, 'the old ack ignored');
    expect(await cursor()).toBeNull();
    bed.backend.holding = false;
    await bed.admin.set(REDIS_KEY.senderEnabled, '1');
    await cursorAt(ids[4]!);
    // The stretch went out again after the reconnect, and its new ack moved the cursor.
    expect(bed.backend.batches.length).toBeGreaterThanOrEqual(2);
  });
});
