import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { type ReadingsBatch, STREAM_KEY } from '@iot/common/protocol';
import type { Redis } from 'ioredis';
import type { AckTracker } from './ack-tracker.ts';
import { type Batch, type BatchLimits, buildBatch, type StreamEntry } from './batch-builder.ts';
import type { CursorStore } from './cursor-store.ts';
import type { MqttLink } from './mqtt-link.ts';
import type { RedisMemory } from './redis-memory.ts';
import type { SenderSettingsReader } from './sender-settings.ts';
import { isAfter, xreadId } from './stream-cursor.ts';
import type { StreamTrimmer } from './stream-trimmer.ts';
import { SendWindow } from './send-window.ts';
import { Wakeup } from './wakeup.ts';

export interface BatchSenderOptions {
  /** The shared, fail-fast connection (redis-connection.ts). */
  redis: Redis;
  /** A connection of its own for XREAD BLOCK, which would hold up every other command. */
  blockingRedis: Redis;
  link: Pick<MqttLink, 'ready' | 'generation' | 'whenReady' | 'publish'>;
  cursor: CursorStore;
  settings: SenderSettingsReader;
  trimmer: StreamTrimmer;
  acks: AckTracker;
  memory: RedisMemory;
  clock: Clock;
  logger: Logger;
  deviceId: string;
  meta?: ReadingsBatch['meta'];
  /** The readings topic of this device. */
  topic: string;
  limits: BatchLimits;
  /** UPLINK_WINDOW: batches in flight at once. */
  window: number;
  ackTimeoutMs: number;
  /** Trim at most this often while acks arrive (always after an ack while Redis is full). */
  trimEveryMs?: number;
  /** Longest XREAD BLOCK, so settings and stop are noticed. */
  blockMs?: number;
}

/** Whether entries wait after the cursor, as the sender last saw it, and since when. */
export interface BacklogState {
  empty: boolean;
  since: number;
}

const DEFAULT_TRIM_EVERY_MS = 2000;
const POLL_MS = 1000;
const MAX_BACKOFF_MS = 2000;
/** Entries whose problem was logged, remembered so re-publications do not log them again. */
const PROBLEMS_REMEMBERED = 1000;

/**
 * The uplink's send loop (docs/delivery-guarantee.md §1, §3). It reads the entries after the
 * confirmed cursor from Redis and publishes them as batches (QoS 1), up to `window` batches in
 * flight, each read right after the one before (send-window.ts). Acks, handled in
 * {@link handleAck}, may come in any order; the cursor moves over the acknowledged stretches that
 * join it. Without an ack in time, or after a reconnect, the window is dropped and the next round
 * reads from the cursor again: payloads are never kept, so memory stays bounded by the window
 * however long the backlog.
 *
 * Pacing: `mqtt_sender:enabled` "0" pauses. Where `mqtt_sender:interval` is set, it keeps the
 * original's meaning, one batch per interval unless a full batch waits. Where it is not set,
 * batching is adaptive, as Nagle's algorithm: with nothing in flight a new reading goes out at
 * once; while batches are in flight, new readings collect into the next batch, which goes out
 * when it is full or when the window empties.
 */
export class BatchSender {
  private backlogState: BacklogState | undefined;
  private lastPublishAt = Number.NEGATIVE_INFINITY;
  private lastPublishedFirst: string | undefined;
  private lastTrimAt = Number.NEGATIVE_INFINITY;
  /** The cursor the last trim ran behind. */
  private trimmedAt: string | undefined;
  private paused = false;
  private failures = 0;
  private lastFailure = '';
  /** The broker connection the batches in flight went out on. */
  private generation = -1;
  /** Adaptive batching: the last batch was not full, so new entries collect until the window empties. */
  private collecting = false;
  private readonly logged = new Set<string>();
  private readonly wakeup: Wakeup;
  private readonly window: SendWindow;
  private readonly options: BatchSenderOptions;

  constructor(options: BatchSenderOptions) {
    this.options = options;
    this.wakeup = new Wakeup(options.clock);
    this.window = new SendWindow(options.window);
  }

  /** Whether entries wait after the cursor (undefined until the first read). */
  get backlog(): BacklogState | undefined {
    return this.backlogState;
  }

  /** Batches published and not yet covered by the cursor. */
  get inFlight(): number {
    return this.window.inFlight.length;
  }

  /** Ends any wait early: the link went down, or an ack moved the cursor. */
  wake(): void {
    this.wakeup.wake();
  }

  /** Sends until `signal` aborts. Never rejects: Redis and broker failures are waited out. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.round(signal);
        this.recovered();
      } catch (error) {
        if (signal.aborted) break;
        this.failed(error);
        await this.options.clock.sleep(Math.min(50 * 2 ** Math.min(this.failures, 6), MAX_BACKOFF_MS), signal);
      }
    }
  }

  /**
   * An acknowledgement arrived: if it names a batch published here, read since Redis last
   * connected, its stretch is recorded and the cursor moves over every stretch that now joins it
   * (docs/delivery-guarantee.md §3). Never throws.
   */
  handleAck(payload: Buffer): void {
    const { acks, cursor, logger, clock } = this.options;
    const verdict = acks.check(payload);
    if (!verdict.ok) return;
    const { batch, ack } = verdict;
    const fields = {
      batch: batch.name,
      count: batch.count,
      up_to: ack.up_to,
      stored: ack.stored,
      duplicates: ack.duplicates,
      rejected: ack.rejected,
      latency_ms: clock.now() - batch.sentAt,
    };
    if (batch.epoch !== this.window.epoch || !cursor.ready) {
      // Read before Redis reconnected: the stream may since have other entries under these ids.
      logger.debug({ event: 'ack_stale', ...fields, reason: 'redis_reconnected' }, 'acknowledgement of a batch read before Redis reconnected; ignored');
      return;
    }
    const before = cursor.confirmed;
    const moved = this.window.acknowledge({ after: batch.after, last: batch.last }, before);
    if (moved === undefined || !cursor.advance(moved)) {
      const early = isAfter(batch.last, before);
      logger.debug(
        { event: early ? 'ack_early' : 'ack_stale', ...fields, cursor: before ?? null },
        early ? 'acknowledgement before an earlier batch\'s; kept until that one arrives' : 'acknowledgement of a batch already confirmed',
      );
      return;
    }
    logger.debug({ event: 'batch_acked', ...fields }, 'batch acknowledged by the receiver');
    logger.debug({ event: 'cursor_advanced', from: before ?? null, to: moved }, 'cursor advanced');
    this.wakeup.wake();
  }

  private async round(signal: AbortSignal): Promise<void> {
    const { link, cursor, settings, clock, logger, topic, ackTimeoutMs } = this.options;
    await link.whenReady(signal);
    if (signal.aborted) return;
    if (!cursor.ready) {
      await cursor.load();
      this.window.newEpoch();
    }
    if (cursor.unsaved) await cursor.flush();
    if (link.generation !== this.generation) {
      // A new connection: what was in flight on the old one may be lost; read it again.
      this.window.resend();
      this.generation = link.generation;
    }

    const now = clock.now();
    const current = await settings.current(now);
    if (!current.sending) {
      this.setPaused(true);
      await this.wakeup.wait(POLL_MS, signal);
      return;
    }
    this.setPaused(false);
    await this.maybeTrim();

    const oldest = this.window.oldest;
    if (oldest !== undefined && now - oldest.sentAt >= ackTimeoutMs) {
      logger.warn(
        { event: 'ack_timeout', batch: oldest.name, count: oldest.count, in_flight: this.window.inFlight.length, timeout_ms: ackTimeoutMs },
        'no acknowledgement in time; publishing again from the cursor',
      );
      this.window.resend();
    }
    if (this.window.full) {
      await this.waitForAcks(now, signal);
      return;
    }

    const adaptive = current.sendIntervalSeconds === undefined;
    if (adaptive && this.collecting && !this.window.empty) {
      // Live readings and a batch in flight: whatever came since goes in the next batch, after the
      // ack; reading now would only find it not full (one read per batch, not per wake-up).
      this.setBacklog(false, now);
      await this.waitForAcks(now, signal);
      return;
    }
    const from = this.window.readPosition(cursor.confirmed);
    // With nothing in flight, one blocking read both waits for new entries and fetches them.
    const batch = this.window.empty ? await this.nextBatchBlocking(from) : await this.nextBatch(from, now);
    if (batch === undefined) {
      if (!this.window.empty) {
        this.setBacklog(false, now);
        await this.waitForAcks(now, signal);
        return;
      }
      // Caught up (the blocking read waited up to a poll interval for more).
      this.setBacklog(true, now);
      return;
    }
    this.setBacklog(false, now);
    if (!batch.full) {
      const interval = current.sendIntervalSeconds;
      if (interval !== undefined) {
        const due = this.lastPublishAt + interval * 1000;
        if (now < due) {
          // Live readings: collect them until the interval is up (re-read then; nothing is kept).
          await this.wakeup.wait(Math.min(due - now, POLL_MS), signal);
          return;
        }
      } else if (!this.window.empty) {
        // Adaptive: a part batch waits while others are in flight, collecting what comes meanwhile.
        this.collecting = true;
        await this.waitForAcks(now, signal);
        return;
      }
    }

    if (!link.publish(topic, batch.payload, { qos: 1 })) return;
    this.collecting = !batch.full;
    const sentAt = clock.now();
    this.window.add({ name: batch.name, after: from, last: batch.last, count: batch.count, sentAt });
    this.published(batch, from, sentAt);
  }

  /** Waits for an ack to move the cursor, at most until the oldest batch in flight times out. */
  private async waitForAcks(now: number, signal: AbortSignal): Promise<void> {
    const oldest = this.window.oldest;
    const left = oldest === undefined ? POLL_MS : oldest.sentAt + this.options.ackTimeoutMs - now;
    await this.wakeup.wait(Math.max(1, Math.min(left, POLL_MS)), signal);
  }

  /** Reads after `after` (one entry more than a batch holds, to know whether more wait) and builds the batch. */
  private async nextBatch(after: string | undefined, now: number): Promise<Batch | undefined> {
    const { redis, limits, deviceId, meta } = this.options;
    const reply = await redis.xread('COUNT', limits.maxCount + 1, 'STREAMS', STREAM_KEY, xreadId(after));
    const entries: StreamEntry[] = reply?.[0]?.[1] ?? [];
    return buildBatch(entries, { device: deviceId, sentAt: now, ...(meta === undefined ? {} : { meta }) }, limits);
  }

  /**
   * As {@link nextBatch}, but on the dedicated connection, blocking until an entry arrives after
   * `after` or a poll interval passes (then undefined). Trims first: caught up is when the last
   * acks' trim is due, so an idle stream keeps exactly its history.
   */
  private async nextBatchBlocking(after: string | undefined): Promise<Batch | undefined> {
    const { blockingRedis, limits, deviceId, meta, clock } = this.options;
    await this.maybeTrim();
    const blockMs = this.options.blockMs ?? POLL_MS;
    const reply = await blockingRedis.xread('COUNT', limits.maxCount + 1, 'BLOCK', blockMs, 'STREAMS', STREAM_KEY, xreadId(after));
    const entries: StreamEntry[] = reply?.[0]?.[1] ?? [];
    // Stamped when read: the read may have waited for these entries.
    return buildBatch(entries, { device: deviceId, sentAt: clock.now(), ...(meta === undefined ? {} : { meta }) }, limits);
  }

  private published(batch: Batch, after: string | undefined, now: number): void {
    const { acks, logger } = this.options;
    acks.record({ name: batch.name, after, first: batch.first, last: batch.last, count: batch.count, sentAt: now, epoch: this.window.epoch });
    const again = this.lastPublishedFirst !== undefined && !isAfter(batch.first, this.lastPublishedFirst);
    this.lastPublishAt = now;
    this.lastPublishedFirst = batch.first;
    logger.debug(
      {
        event: 'batch_published',
        batch: batch.name,
        count: batch.count,
        bytes: batch.payload.length,
        full: batch.full,
        in_flight: this.window.inFlight.length,
        again,
      },
      again ? 'batch published again' : 'batch published',
    );
    for (const { id, problem } of batch.problems) {
      if (this.logged.has(id)) continue;
      if (this.logged.size >= PROBLEMS_REMEMBERED) this.logged.clear();
      this.logged.add(id);
      logger.warn({ event: 'entry_unparseable', id, problem }, 'stream entry is not a reading; sent raw so the receiver records it as rejected');
    }
  }

  /**
   * Trims behind the cursor once it moved, at most every few seconds (always while Redis is
   * full: trimming is what frees it).
   */
  private async maybeTrim(): Promise<void> {
    const { clock, trimmer, cursor, memory, logger } = this.options;
    const now = clock.now();
    if (cursor.confirmed === this.trimmedAt) return;
    if (now - this.lastTrimAt < (this.options.trimEveryMs ?? DEFAULT_TRIM_EVERY_MS) && !memory.full) return;
    this.lastTrimAt = now;
    const target = cursor.confirmed;
    try {
      await trimmer.trimAndMeasure(target);
      this.trimmedAt = target;
    } catch (error) {
      logger.warn({ event: 'trim_failed', err: error }, 'could not trim the stream; will try again');
    }
  }

  private setBacklog(empty: boolean, now: number): void {
    if (this.backlogState?.empty !== empty) this.backlogState = { empty, since: now };
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    this.options.logger.info(
      { event: paused ? 'uplink_paused' : 'uplink_resumed' },
      paused ? 'mqtt_sender:enabled is 0: sending paused' : 'sending resumed',
    );
  }

  private failed(error: unknown): void {
    this.failures++;
    const message = messageOf(error);
    if (error instanceof Error) this.options.memory.noteWriteError(error);
    if (message === this.lastFailure) return;
    this.lastFailure = message;
    this.options.logger.warn({ event: 'uplink_redis_error', err: error }, 'Redis failed while sending; retrying');
  }

  private recovered(): void {
    this.failures = 0;
    this.lastFailure = '';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
