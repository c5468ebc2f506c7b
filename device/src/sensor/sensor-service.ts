import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { readingFields, roundValues, shutdownFields, STREAM_KEY } from '@iot/common/protocol';
import type { Service } from '@iot/common/service';
import type { Redis } from 'ioredis';
import { newBootId } from './boot-id.ts';
import type { ChipSet } from './chip-set.ts';
import { MeasurementSettingsReader } from './measurement-settings.ts';
import { ReadingBuffer } from './reading-buffer.ts';
import { StreamRecorder } from './stream-recorder.ts';

export interface SensorServiceOptions {
  redis: Redis;
  chips: ChipSet;
  clock: Clock;
  logger: Logger;
  /** Default seconds between readings when `measurement:interval` is unset (INTERVAL_SECONDS). */
  defaultIntervalSeconds: number;
  /** Readings held in memory while Redis is unavailable (SENSOR_BUFFER_CAPACITY). */
  bufferCapacity: number;
  /** How long a clean stop may spend writing buffered readings before giving up. */
  drainTimeoutMs?: number;
  /** Boot id source; random 64 bits by default. */
  newBootId?: () => string;
}

/**
 * Settings are re-read on every wake-up but at most every 100 ms, and the loop wakes at least once
 * a second, so a changed interval or on/off applies within one interval (and within 1 s).
 */
const SETTINGS_MAX_AGE_MS = 100;
const MAX_SLEEP_MS = 1000;
/** At start, how long to wait for Redis before measuring with default settings (and buffering). */
const REDIS_WAIT_AT_START_MS = 3000;
/** With Redis keeping up, measuring pauses when this many readings wait (only matters at interval 0). */
const HIGH_WATER = 512;
const STATUS_EVERY_MS = 60_000;

/**
 * The sensor service: samples the chips every `measurement:interval` seconds while
 * `measurement:enabled` is not "0" and appends each reading to the `measurement:values` stream
 * with its identity (boot id, sequence within the boot; docs/delivery-guarantee.md §6).
 */
export class SensorService implements Service {
  readonly bootId: string;
  private seq = 0;
  private lastStart: number | undefined;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private readonly buffer: ReadingBuffer;
  private readonly recorder: StreamRecorder;
  private readonly settings: MeasurementSettingsReader;
  private readonly stopping = new AbortController();
  private loops: Promise<unknown> | undefined;
  private readonly options: SensorServiceOptions;

  constructor(options: SensorServiceOptions) {
    this.options = options;
    this.bootId = (options.newBootId ?? newBootId)();
    this.buffer = new ReadingBuffer(options.bufferCapacity);
    this.recorder = new StreamRecorder({ redis: options.redis, buffer: this.buffer, bootId: this.bootId, logger: options.logger, clock: options.clock });
    this.settings = new MeasurementSettingsReader({ redis: options.redis, defaultIntervalSeconds: options.defaultIntervalSeconds, logger: options.logger });
  }

  /** Counters for status reports and tests. */
  stats() {
    return {
      bootId: this.bootId,
      measured: this.seq,
      recorded: this.recorder.recorded,
      buffered: this.buffer.length,
      dropped: this.buffer.dropped,
      chipErrors: this.options.chips.errorCounts(),
    };
  }

  async start(): Promise<void> {
    this.options.logger.info({ event: 'boot_started', boot_id: this.bootId }, 'sensor started');
    const signal = this.stopping.signal;
    this.loops = Promise.all([this.measureLoop(signal), this.recorder.run(signal), this.statusLoop(signal)]);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loops;
    const { logger, clock, redis } = this.options;
    const left = await this.recorder.drain(clock.now() + (this.options.drainTimeoutMs ?? 5000));
    if (left > 0) {
      // No marker: the backend must treat this boot like a crash, because readings are missing.
      logger.error({ event: 'boot_ended', boot_id: this.bootId, clean: false, not_recorded: left, last_seq: this.seq }, `stopped with ${left} readings not recorded`);
    } else {
      try {
        await redis.xadd(STREAM_KEY, '*', ...shutdownFields(this.bootId, this.seq, clock.now()));
        logger.info({ event: 'boot_ended', boot_id: this.bootId, clean: true, last_seq: this.seq }, 'clean-shutdown marker written');
      } catch (error) {
        logger.error({ event: 'boot_ended', boot_id: this.bootId, clean: false, last_seq: this.seq, err: error }, 'could not write the clean-shutdown marker');
      }
    }
    logger.info({ event: 'sensor_status', ...this.stats() }, 'sensor stopped');
  }

  private async measureLoop(signal: AbortSignal): Promise<void> {
    const { clock } = this.options;
    await this.redisReady(REDIS_WAIT_AT_START_MS, signal);
    while (!signal.aborted) {
      const now = clock.now();
      const settings = await this.settings.current(now, SETTINGS_MAX_AGE_MS);
      const intervalMs = settings.intervalSeconds * 1000;
      const pollMs = clamp(intervalMs, SETTINGS_MAX_AGE_MS, MAX_SLEEP_MS);
      if (!settings.enabled) {
        this.lastStart = undefined;
        await clock.sleep(pollMs, signal);
        continue;
      }
      // Due one interval after the last sample was due, so the schedule does not drift; a new
      // interval applies from the last sample. After falling behind (a stuck bus, a frozen
      // process) restart the schedule instead of bursting to catch up.
      const due = this.lastStart === undefined ? now : this.lastStart + intervalMs;
      if (now < due) {
        await clock.sleep(Math.min(due - now, pollMs), signal);
        continue;
      }
      this.lastStart = now - due > intervalMs ? now : due;
      await this.measureOnce(now);
      if (this.buffer.length >= HIGH_WATER && this.recorder.writing) await this.recorder.progressed(signal);
      // Simulated chips answer without real I/O; let the recorder's socket work run.
      await yieldToIo();
    }
  }

  /** Waits (bounded) for the connection, so the first sample already honours the settings in Redis. */
  private async redisReady(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const { redis, clock, logger } = this.options;
    const deadline = clock.now() + timeoutMs;
    while (redis.status !== 'ready' && clock.now() < deadline && !signal.aborted) await clock.sleep(20, signal);
    if (redis.status !== 'ready') {
      logger.warn({ event: 'measuring_without_redis' }, 'Redis is not reachable yet: measuring with default settings and buffering readings');
    }
  }

  private async measureOnce(now: number): Promise<void> {
    const sample = await this.options.chips.sample(now);
    if (sample === undefined) return;
    const values = roundValues(sample);
    const seq = ++this.seq;
    const reading = { seq, measuredAt: now, values, fields: readingFields({ bootId: this.bootId, seq }, now, values) };
    const dropped = this.buffer.push(reading);
    if (dropped !== undefined) this.reportDrop(dropped.seq);
    this.recorder.notify();
  }

  private reportDrop(seq: number): void {
    const now = this.options.clock.now();
    if (now - this.lastDropLogAt < 10_000) return;
    this.lastDropLogAt = now;
    this.options.logger.error(
      { event: 'readings_dropped', boot_id: this.bootId, dropped_total: this.buffer.dropped, oldest_dropped_seq: seq, capacity: this.buffer.capacity },
      'reading buffer full while Redis is unavailable: dropping the oldest readings',
    );
  }

  private async statusLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.options.clock.sleep(STATUS_EVERY_MS, signal);
      if (!signal.aborted) this.options.logger.info({ event: 'sensor_status', ...this.stats() }, 'sensor status');
    }
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
