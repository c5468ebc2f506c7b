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
 * The uplink's send loop: stop-and-wait, one batch in flight (docs/delivery-guarantee.md §1). It reads the entries
 * after the confirmed cursor from Redis, publishes them as one batch (QoS 1), and waits for the
 * receiver's ack; the ack, handled in {@link handleAck}, moves the cursor. Without an ack in time,
 * or after a reconnect, the next round reads from the cursor again and re-publishes: the payload is
 * never kept, so memory stays bounded by one batch however long the backlog.
 *
 * Pacing follows the original's keys: `mqtt_sender:enabled` "0" pauses; `mqtt_sender:interval`
 * allows one batch per interval unless a full batch waits, so a backlog drains at full speed while
 * live readings are collected for up to one interval.
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
  private readonly logged = new Set<string>();
  private readonly wakeup: Wakeup;
  private readonly options: BatchSenderOptions;

  constructor(options: BatchSenderOptions) {
    this.options = options;
    this.wakeup = new Wakeup(options.clock);
  }

  /** Whether entries wait after the cursor (undefined until the first read). */
  get backlog(): BacklogState | undefined {
    return this.backlogState;
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
   * An acknowledgement arrived: if it names a batch published here and lies after the cursor, the
   * cursor moves there (docs/delivery-guarantee.md §3). Never throws.
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
    const before = cursor.confirmed;
    if (!cursor.advance(ack.up_to)) {
      logger.debug({ event: 'ack_stale', ...fields, cursor: before ?? null }, 'acknowledgement of a batch already confirmed');
      return;
    }
    logger.debug({ event: 'batch_acked', ...fields }, 'batch acknowledged by the receiver');
    logger.debug({ event: 'cursor_advanced', from: before ?? null, to: ack.up_to }, 'cursor advanced');
    this.wakeup.wake();
  }

  private async round(signal: AbortSignal): Promise<void> {
    const { link, cursor, settings, clock, logger, topic } = this.options;
    await link.whenReady(signal);
    if (signal.aborted) return;
    if (!cursor.ready) await cursor.load();
    if (cursor.unsaved) await cursor.flush();

    const now = clock.now();
    const current = await settings.current(now);
    if (!current.sending) {
      this.setPaused(true);
      await this.wakeup.wait(POLL_MS, signal);
      return;
    }
    this.setPaused(false);

    const from = cursor.confirmed;
    const batch = await this.nextBatch(from, now);
    if (batch === undefined) {
      this.setBacklog(true, now);
      // Caught up: trim what the last acks confirmed, so an idle stream keeps exactly its history.
      await this.maybeTrim();
      await this.waitForEntries(from, signal);
      return;
    }
    this.setBacklog(false, now);
    const due = this.lastPublishAt + current.sendIntervalSeconds * 1000;
    if (!batch.full && now < due) {
      // Live readings: collect them until the interval is up (re-read then; nothing is kept).
      await this.wakeup.wait(Math.min(due - now, POLL_MS), signal);
      return;
    }

    const generation = link.generation;
    if (!link.publish(topic, batch.payload, { qos: 1 })) return;
    this.published(batch, now);
    const outcome = await this.awaitAck(batch, generation, signal);
    if (outcome === 'timeout') {
      logger.warn(
        { event: 'ack_timeout', batch: batch.name, count: batch.count, timeout_ms: this.options.ackTimeoutMs },
        'no acknowledgement in time; publishing again from the cursor',
      );
    }
    if (outcome === 'acked') await this.maybeTrim();
  }

  /** Reads after the cursor (one entry more than a batch holds, to know whether more wait) and builds the batch. */
  private async nextBatch(after: string | undefined, now: number): Promise<Batch | undefined> {
    const { redis, limits, deviceId, meta } = this.options;
    const reply = await redis.xread('COUNT', limits.maxCount + 1, 'STREAMS', STREAM_KEY, xreadId(after));
    const entries: StreamEntry[] = reply?.[0]?.[1] ?? [];
    return buildBatch(entries, { device: deviceId, sentAt: now, ...(meta === undefined ? {} : { meta }) }, limits);
  }

  /** Blocks (on the dedicated connection) until an entry arrives after `after`, or a poll interval passes. */
  private async waitForEntries(after: string | undefined, signal: AbortSignal): Promise<void> {
    const blockMs = this.options.blockMs ?? POLL_MS;
    if (signal.aborted) return;
    await this.options.blockingRedis.xread('COUNT', 1, 'BLOCK', blockMs, 'STREAMS', STREAM_KEY, xreadId(after));
  }

  private published(batch: Batch, now: number): void {
    const { acks, logger } = this.options;
    acks.record({ name: batch.name, first: batch.first, last: batch.last, count: batch.count, sentAt: now });
    const again = this.lastPublishedFirst === batch.first;
    this.lastPublishAt = now;
    this.lastPublishedFirst = batch.first;
    logger.debug(
      { event: 'batch_published', batch: batch.name, count: batch.count, bytes: batch.payload.length, full: batch.full, again },
      again ? 'batch published again' : 'batch published',
    );
    for (const { id, problem } of batch.problems) {
      if (this.logged.has(id)) continue;
      if (this.logged.size >= PROBLEMS_REMEMBERED) this.logged.clear();
      this.logged.add(id);
      logger.warn({ event: 'entry_unparseable', id, problem }, 'stream entry is not a reading; sent raw so the receiver records it as rejected');
    }
  }

  /** Waits until the cursor covers `batch`, the connection changes, or the ack timeout passes. */
  private async awaitAck(batch: Batch, generation: number, signal: AbortSignal): Promise<'acked' | 'timeout' | 'interrupted'> {
    const { clock, cursor, link } = this.options;
    const deadline = clock.now() + this.options.ackTimeoutMs;
    for (;;) {
      if (!isAfter(batch.last, cursor.confirmed)) return 'acked';
      if (signal.aborted || !link.ready || link.generation !== generation) return 'interrupted';
      const left = deadline - clock.now();
      if (left <= 0) return 'timeout';
      await this.wakeup.wait(left, signal);
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
