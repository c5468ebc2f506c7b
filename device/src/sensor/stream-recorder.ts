import { STREAM_KEY } from '@iot/common/protocol';
import type { Logger } from '@iot/common/log';
import type { Clock } from '@iot/common/clock';
import type { Redis } from 'ioredis';
import type { PendingReading, ReadingBuffer } from './reading-buffer.ts';

/** XADDs per pipeline round trip: enough to amortise latency, small enough to keep memory flat. */
const BATCH = 128;
const MAX_BACKOFF_MS = 2000;

/**
 * Moves readings from the buffer into the Redis stream, oldest first, and is the only place that
 * declares a reading *recorded*: exactly when Redis acknowledged its XADD, with one log line per
 * reading (the no-loss checker's history). A failed XADD leaves the reading at the front of the
 * buffer to be retried; if Redis applied it but the reply was lost, the retry adds a second entry
 * with the same identity, which the backend's unique key absorbs.
 */
export class StreamRecorder {
  private recordedTotal = 0;
  private healthy = true;
  private failures = 0;
  private wake: (() => void) | undefined;
  private readonly progressWaiters = new Set<() => void>();
  private readonly redis: Redis;
  private readonly buffer: ReadingBuffer;
  private readonly bootId: string;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(options: { redis: Redis; buffer: ReadingBuffer; bootId: string; logger: Logger; clock: Clock }) {
    this.redis = options.redis;
    this.buffer = options.buffer;
    this.bootId = options.bootId;
    this.logger = options.logger;
    this.clock = options.clock;
  }

  get recorded(): number {
    return this.recordedTotal;
  }

  /** True while the last attempt to write reached Redis and succeeded. */
  get writing(): boolean {
    return this.healthy;
  }

  /** Tells the recorder that the buffer has new readings. */
  notify(): void {
    this.wake?.();
  }

  /** Resolves after the next successful write (or at once if `signal` is aborted). */
  progressed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        this.progressWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.progressWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Writes until `signal` aborts; waits for readings when the buffer is empty. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.buffer.length === 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done);
            this.wake = undefined;
            resolve();
          };
          this.wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      if (!(await this.writeBatch())) await this.clock.sleep(this.backoffMs(), signal);
    }
  }

  /** Tries to empty the buffer before `deadline`; returns how many readings are left. */
  async drain(deadline: number): Promise<number> {
    while (this.buffer.length > 0 && this.clock.now() < deadline) {
      if (!(await this.writeBatch())) await this.clock.sleep(Math.min(this.backoffMs(), deadline - this.clock.now()));
    }
    return this.buffer.length;
  }

  /** One pipelined batch of XADDs. Returns false if nothing could be written. */
  private async writeBatch(): Promise<boolean> {
    const batch = this.buffer.peek(BATCH);
    const pipeline = this.redis.pipeline();
    for (const reading of batch) pipeline.xadd(STREAM_KEY, '*', ...reading.fields);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      this.failed(error, batch.length);
      return false;
    }
    let written = 0;
    for (const [index, reading] of batch.entries()) {
      const [error, streamId] = results?.[index] ?? [new Error('no reply'), null];
      if (error !== null) {
        if (written === 0) this.failed(error, batch.length);
        break;
      }
      this.buffer.shift();
      this.recordedOne(reading, String(streamId));
      written++;
    }
    if (written > 0) this.succeeded();
    return written > 0;
  }

  private recordedOne(reading: PendingReading, streamId: string): void {
    this.recordedTotal++;
    this.logger.info(
      {
        event: 'reading_recorded',
        boot_id: this.bootId,
        seq: reading.seq,
        stream_id: streamId,
        measured_at: reading.measuredAt,
        values: reading.values,
      },
      'reading recorded',
    );
  }

  private succeeded(): void {
    if (!this.healthy) {
      this.logger.info({ event: 'recording_resumed', buffered: this.buffer.length, after_failures: this.failures }, 'Redis accepts readings again');
    }
    this.healthy = true;
    this.failures = 0;
    for (const waiter of [...this.progressWaiters]) waiter();
  }

  private failed(error: unknown, attempted: number): void {
    this.failures++;
    if (!this.healthy) return;
    this.healthy = false;
    const message = error instanceof Error ? error.message : String(error);
    // OOM means Redis is full (maxmemory with noeviction): nothing is evicted, we buffer and report.
    const full = message.startsWith('OOM');
    this.logger.error(
      { event: full ? 'redis_full' : 'recording_failed', err: { message }, buffered: this.buffer.length, attempted },
      full
        ? 'Redis is full (maxmemory, noeviction): readings are buffered in memory until the uplink frees space'
        : 'could not write readings to Redis; buffering in memory and retrying',
    );
  }

  private backoffMs(): number {
    return Math.min(50 * 2 ** Math.min(this.failures, 6), MAX_BACKOFF_MS);
  }
}
