import { statSync, truncateSync } from 'node:fs';
import { type Clock, systemClock } from '@iot/common/clock';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type AofSample, AofSizeTracker, currentIncrFile, powerCut } from '../src/faults/power-cut.ts';
import { RedisServer } from '../src/processes/redis-server.ts';
import { eventually } from '../src/testing/log-capture.ts';
import { ManualClock } from '../src/testing/manual-clock.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startRedis(): Promise<RedisServer> {
  const redis = new RedisServer(); // the device's redis.conf: AOF, appendfsync everysec
  cleanups.push(() => redis.dispose());
  return redis.start();
}

/**
 * A tracker sampling every 50 ms of a clock the test moves, so which writes a sample holds, and
 * how far a cut reaches back, are exact rather than a matter of timing.
 */
async function startTracker(redis: RedisServer, clock: ManualClock): Promise<AofSizeTracker> {
  const tracker = await new AofSizeTracker(redis, { clock, intervalMs: 50 }).start();
  cleanups.push(() => tracker.stop());
  return tracker;
}

/** Ends the tracker's sleep and waits for the sample it then takes (stamped with the new time). */
async function nextSample(clock: ManualClock, tracker: AofSizeTracker): Promise<AofSample> {
  const sleep = await eventually(() => clock.pending[0], 5000, 'the tracker asleep');
  clock.advanceTo(sleep.deadline);
  return eventually(() => (tracker.samples.at(-1)?.at === clock.now() ? tracker.samples.at(-1) : undefined), 5000, 'the next sample');
}

function client(redis: RedisServer): Redis {
  const connection = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  // A restart makes ioredis report the dropped connection; the tests look at the data instead.
  connection.on('error', () => {});
  cleanups.push(() => connection.disconnect());
  return connection;
}

/**
 * Waits until Redis has written its AOF buffer to the file. With `appendfsync everysec`, Redis
 * postpones that write for up to 2 s while a background fsync is still running, yet replies to
 * clients meanwhile (docs/delivery-guarantee.md §8): a SIGKILL in that moment loses acknowledged
 * writes. What a kill must never lose is what was written.
 */
async function aofWritten(admin: Redis): Promise<void> {
  await eventually(async () => /aof_buffer_length:0\r?\n/.test(await admin.info('persistence')), 10_000, 'Redis to write its AOF buffer');
}

interface Ack {
  seq: number;
  at: number;
}

/**
 * XADDs seq 1, 2, 3, ... one after another (each sent only after the previous reply) until Redis
 * goes away, recording when (on `clock`) each was acknowledged: the history a sensor would log.
 */
function startWriter(redis: RedisServer, clock: Clock = systemClock): { acks: Ack[]; done: Promise<void> } {
  const acks: Ack[] = [];
  // No retries and no offline queue: after the kill every command fails at once.
  const writer = new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  writer.on('error', () => {});
  cleanups.push(() => writer.disconnect());
  const done = (async () => {
    await new Promise((resolve) => writer.once('ready', resolve));
    for (let seq = 1; ; seq++) {
      try {
        await writer.xadd('readings', '*', 'seq', String(seq));
      } catch {
        return;
      }
      acks.push({ seq, at: clock.now() });
    }
  })();
  return { acks, done };
}

/** The seq fields in the stream, in stream order. */
async function storedSeqs(redis: RedisServer): Promise<number[]> {
  const reader = client(redis);
  await reader.connect();
  const entries = await reader.xrange('readings', '-', '+');
  return entries.map(([, fields]) => Number(fields[1]));
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('power cut', () => {
  it('loses the unsynced last second: older acknowledged writes survive, the newest are gone, Redis restarts', async () => {
    const redis = await startRedis();
    const clock = new ManualClock();
    const tracker = await startTracker(redis, clock);
    const writer = startWriter(redis, clock);
    // The writer runs all along. At 50 ms the tracker samples the file; one second later (the loss
    // window) the power goes, so the cut rolls the file back to that sample.
    await eventually(() => writer.acks.length >= 100, 10_000, '100 writes before the sample');
    const kept = await nextSample(clock, tracker);
    clock.advance(1000);
    await eventually(() => writer.acks.filter((a) => a.at === clock.now()).length >= 20, 10_000, '20 writes in the last second');

    const cut = await powerCut(redis, tracker, { lossWindowMs: 1000 });
    await writer.done;
    expect(cut.cutAt).toBe(kept.at + 1000);
    expect(cut.file).toBe(`${redis.dir}/appendonlydir/appendonly.aof.1.incr.aof`);
    expect(cut.truncatedBytes).toBeGreaterThan(0);

    await redis.start();
    const seqs = await storedSeqs(redis);
    const survivors = seqs.length;
    // The AOF is a log: what survives is a prefix of the history, without holes.
    expect(seqs).toEqual(oneTo(survivors));
    const acks = writer.acks;
    // Acknowledged before the sample was even due: on disk at the sample, so kept.
    const old = acks.filter((a) => a.at < kept.at);
    expect(old.length).toBeGreaterThanOrEqual(100);
    expect(survivors).toBeGreaterThanOrEqual(old.at(-1)!.seq);
    // Sent after a write acknowledged in the last second, i.e. after the sample was taken: lost.
    const late = acks.filter((a) => (acks[a.seq - 2]?.at ?? Number.NEGATIVE_INFINITY) >= cut.cutAt);
    expect(late.length).toBeGreaterThanOrEqual(19);
    expect(survivors).toBeLessThan(late[0]!.seq);

    // Redis accepts writes after the cut and keeps them across another crash.
    const after = client(redis);
    await after.connect();
    await after.xadd('readings', '*', 'seq', 'after-cut');
    await redis.kill();
    await redis.start();
    const again = client(redis);
    await again.connect();
    const last = await again.xrevrange('readings', '+', '-', 'COUNT', 1);
    expect(last[0]?.[1]).toEqual(['seq', 'after-cut']);
    expect(await again.xlen('readings')).toBe(survivors + 1);
  });

  it('control: SIGKILL alone loses nothing Redis wrote to its AOF, and keeps the order', async () => {
    const redis = await startRedis();
    const writer = startWriter(redis);
    await eventually(() => writer.acks.length >= 200, 10_000, '200 acknowledged writes');
    await redis.kill();
    await writer.done;
    expect(writer.acks.length).toBeGreaterThan(100);
    await redis.start();
    // Killed mid-stream: whatever survived is a prefix, never a hole or a reordering.
    const seqs = await storedSeqs(redis);
    expect(seqs).toEqual(oneTo(seqs.length));

    // Killed once the buffer is written: every acknowledged write survives.
    const admin = client(redis);
    await admin.connect();
    for (let seq = seqs.length + 1; seq <= seqs.length + 200; seq++) await admin.xadd('readings', '*', 'seq', String(seq));
    await aofWritten(admin);
    await redis.kill();
    await redis.start();
    expect(await storedSeqs(redis)).toEqual(oneTo(seqs.length + 200));
  });

  it('follows an AOF rewrite to the new incremental file, and a cut reaching before it empties that file', async () => {
    const redis = await startRedis();
    const clock = new ManualClock();
    const tracker = await startTracker(redis, clock);
    const admin = client(redis);
    await admin.connect();
    for (let seq = 1; seq <= 50; seq++) await admin.xadd('readings', '*', 'seq', String(seq));
    const beforeRewrite = (await nextSample(clock, tracker)).at;
    await admin.bgrewriteaof();
    const secondFile = `${redis.dir}/appendonlydir/appendonly.aof.2.incr.aof`;
    await eventually(async () => (await admin.info('persistence')).includes('aof_rewrite_in_progress:0'), 5000, 'the rewrite to finish');
    expect((await nextSample(clock, tracker)).file).toBe(secondFile);
    for (let seq = 51; seq <= 60; seq++) await admin.xadd('readings', '*', 'seq', String(seq));
    expect((await nextSample(clock, tracker)).size).toBeGreaterThan(0);
    expect(tracker.sizeAt(beforeRewrite)?.file).toBe(`${redis.dir}/appendonlydir/appendonly.aof.1.incr.aof`);

    // Reaching back to the sample before the rewrite: the new incremental file is wholly unsynced.
    const cut = await powerCut(redis, tracker, { lossWindowMs: clock.now() - beforeRewrite });
    expect(cut.file).toBe(secondFile);
    expect(cut.truncatedBytes).toBeGreaterThan(10 * 'seq'.length);

    await redis.start();
    // The rewrite's base holds everything up to it; the writes after it were all unsynced.
    expect(await storedSeqs(redis)).toEqual(oneTo(50));
  });

  it('relies on Redis 7 loading an AOF whose last command was cut short (aof-load-truncated yes)', async () => {
    const redis = await startRedis();
    const admin = client(redis);
    await admin.connect();
    for (let seq = 1; seq <= 5; seq++) await admin.xadd('readings', '*', 'seq', String(seq));
    await aofWritten(admin);
    await redis.kill();
    const file = `${redis.dir}/appendonlydir/appendonly.aof.1.incr.aof`;
    truncateSync(file, statSync(file).size - 5); // in the middle of the fifth XADD
    await redis.start();
    expect(await storedSeqs(redis)).toEqual(oneTo(4));
    const after = client(redis);
    await after.connect();
    await after.xadd('readings', '*', 'seq', '6');
    await aofWritten(after);
    await redis.kill();
    await redis.start();
    expect(await storedSeqs(redis)).toEqual([1, 2, 3, 4, 6]);
  });

  it('refuses to cut when the tracker cannot see back over the loss window, and leaves Redis running', async () => {
    const redis = await startRedis();
    const tracker = await startTracker(redis, new ManualClock());
    await expect(powerCut(redis, tracker, { lossWindowMs: 1000 })).rejects.toThrow(/no sample from 1000 ms ago/);
    expect(redis.running).toBe(true);
  });
});

describe('AofSizeTracker', () => {
  it('reads the current incremental file as the last `type i` entry of a Redis 7 manifest', () => {
    const manifest = [
      'file appendonly.aof.3.base.rdb seq 3 type b',
      'file appendonly.aof.5.incr.aof seq 5 type h',
      'file appendonly.aof.6.incr.aof seq 6 type i',
      'file appendonly.aof.7.incr.aof seq 7 type i',
      '',
    ].join('\n');
    expect(currentIncrFile(manifest)).toBe('appendonly.aof.7.incr.aof');
    expect(currentIncrFile('file "my aof.1.incr.aof" seq 1 type i\n')).toBe('my aof.1.incr.aof');
    expect(currentIncrFile('file appendonly.aof.1.base.rdb seq 1 type b\n')).toBeUndefined();
  });

  it('samples the growing file and answers sizeAt with the newest sample not after the time asked', async () => {
    const redis = await startRedis();
    const clock = new ManualClock();
    const started = clock.now();
    const tracker = await startTracker(redis, clock);
    const admin = client(redis);
    await admin.connect();
    const beforeWrite = (await nextSample(clock, tracker)).at;
    const sizeBefore = tracker.sizeAt(beforeWrite)!.size;
    // RESP: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n" (26) + 100 bytes + "\r\n" = 128, plus the 23-byte
    // "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" Redis puts before the first write to a db in this AOF.
    await admin.set('k', 'v'.repeat(100));
    const grown = (await nextSample(clock, tracker)).size - sizeBefore;
    expect([128, 128 + 23]).toContain(grown);
    expect(tracker.sizeAt(beforeWrite)!.size).toBe(sizeBefore);
    expect(tracker.sizeAt(started - 1)).toBeUndefined();
    await nextSample(clock, tracker);
    // One sample every 50 ms of the tracker's clock, from the one start() took.
    expect(tracker.samples.map((sample) => sample.at - started)).toEqual([0, 50, 100, 150]);
  });
});
