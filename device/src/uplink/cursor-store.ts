import type { Logger } from '@iot/common/log';
import type { Redis } from 'ioredis';
import { REDIS_KEY } from '@iot/common/protocol';
import { type Cursor, formatCursor, isAfter, parseCursor } from './stream-cursor.ts';

/**
 * The confirmed cursor (`mqtt_sender:last_id`): the last stream id the receiver acknowledged as
 * committed (docs/delivery-guarantee.md §3). It moves only forward and only through {@link advance}, which
 * the uplink calls for acknowledgements of its own batches.
 *
 * The value in memory is what the uplink sends from; Redis holds the durable copy. The memory copy
 * moves at once on an ack and is written to Redis right after; a write that fails (Redis down, or
 * full under `noeviction`) is retried on the next move or {@link flush}. After Redis reconnects,
 * the uplink reloads the durable copy and adopts it, even when it is behind: a Redis that
 * restarted may have rolled back its stream too, and then the stream's next ids can lie below a
 * cursor remembered in memory. Reading from the older cursor costs only duplicates.
 */
export class CursorStore {
  private value: Cursor;
  private state: 'unloaded' | 'loaded' | 'stale' = 'unloaded';
  private persistedValue: Cursor;
  private writing: Promise<void> = Promise.resolve();
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly onWriteError: (error: Error) => void;

  constructor(options: { redis: Redis; logger: Logger; onWriteError?: (error: Error) => void }) {
    this.redis = options.redis;
    this.logger = options.logger;
    this.onWriteError = options.onWriteError ?? (() => {});
  }

  /** The stream id after which unconfirmed entries start; undefined = from the beginning. */
  get confirmed(): Cursor {
    return this.value;
  }

  /** True once the durable cursor was read since the last Redis (re)connect. */
  get ready(): boolean {
    return this.state === 'loaded';
  }

  /** True when an advance has not reached Redis yet. */
  get unsaved(): boolean {
    return this.value !== this.persistedValue;
  }

  /** Call when Redis (re)connects: the next {@link load} adopts what Redis holds. */
  markStale(): void {
    if (this.state === 'loaded') this.state = 'stale';
  }

  /**
   * Reads the durable cursor. A value that is not a cursor is reported and replaced by "from the
   * beginning": re-sending costs duplicates, skipping would lose readings. Rejects if Redis fails.
   */
  async load(): Promise<void> {
    const raw = await this.redis.get(REDIS_KEY.senderLastId);
    const parsed = parseCursor(raw);
    let cursor: Cursor;
    if (parsed.ok) {
      cursor = parsed.after;
    } else {
      this.logger.error(
        { event: 'cursor_invalid', key: REDIS_KEY.senderLastId, value: raw, problem: parsed.problem },
        `${REDIS_KEY.senderLastId} is not a cursor; sending the whole stream again from the beginning`,
      );
      cursor = undefined;
    }
    if (this.state !== 'unloaded' && cursor !== this.value) {
      this.logger.warn(
        { event: 'cursor_reloaded', from: this.value ?? null, to: cursor ?? null },
        'the cursor in Redis differs from the one in memory (Redis restarted or someone changed it); continuing from Redis',
      );
    }
    this.value = cursor;
    this.persistedValue = parsed.ok ? cursor : undefined;
    this.state = 'loaded';
  }

  /**
   * Moves the cursor to `upTo` if that is after it; writes it to Redis in the background.
   * Returns whether it moved.
   */
  advance(upTo: string): boolean {
    if (!isAfter(upTo, this.value)) return false;
    this.value = upTo;
    void this.flush();
    return true;
  }

  /** Writes the cursor if Redis is behind it. Never rejects; resolves true when Redis holds the current cursor. */
  flush(): Promise<boolean> {
    const done = this.writing.then(() => this.write());
    this.writing = done.then(() => undefined);
    return done;
  }

  private async write(): Promise<boolean> {
    const target = this.value;
    if (target === this.persistedValue) return true;
    if (target === undefined) return true;
    try {
      await this.redis.set(REDIS_KEY.senderLastId, formatCursor(target));
      this.persistedValue = target;
      return this.value === target;
    } catch (error) {
      this.onWriteError(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }
}
