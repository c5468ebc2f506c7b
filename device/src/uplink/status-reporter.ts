import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { type DeviceStatus, PROTOCOL_VERSION } from '@iot/common/protocol';
import type { BacklogState } from './batch-sender.ts';
import type { CursorStore } from './cursor-store.ts';
import type { MqttLink } from './mqtt-link.ts';
import type { RedisMemory } from './redis-memory.ts';
import type { SenderSettingsReader } from './sender-settings.ts';
import type { StreamTrimmer } from './stream-trimmer.ts';

export interface StatusReporterOptions {
  link: Pick<MqttLink, 'ready' | 'publish'>;
  /** The status topic of this device. */
  topic: string;
  cursor: CursorStore;
  trimmer: StreamTrimmer;
  memory: RedisMemory;
  settings: SenderSettingsReader;
  backlog: () => BacklogState | undefined;
  configVersion: () => number | undefined;
  clock: Clock;
  logger: Logger;
  /** UPLINK_STATUS_SECONDS in ms. */
  intervalMs: number;
}

const TICK_MS = 1000;
/**
 * A backlog must last this long (plus one send interval, during which live readings wait by
 * design) before the status says so; otherwise every live reading would flip it.
 */
const SETTLE_MS = 3000;

/** The retained offline status: the Last Will and the last words of a clean stop. */
export function offlineStatus(at: number): DeviceStatus {
  return { v: PROTOCOL_VERSION, online: false, at };
}

/**
 * Publishes the device status (messages.ts deviceStatus), retained: on connect, every
 * UPLINK_STATUS_SECONDS, and when the backlog empties or builds up. The backlog and history are
 * measured in one atomic script together with a trim (stream-trimmer.ts), so a status saying
 * `backlog: 0` is exact. Values that cannot be read (Redis down) are left out rather than guessed.
 */
export class StatusReporter {
  private lastPublishedAt = Number.NEGATIVE_INFINITY;
  private publishedEmpty: boolean | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly options: StatusReporterOptions;

  constructor(options: StatusReporterOptions) {
    this.options = options;
  }

  /** Publishes a fresh status now (serialised with other publications). Never rejects. */
  publishNow(reason: string): Promise<void> {
    const run = this.queue.then(() => this.publish(reason));
    this.queue = run.catch(() => undefined);
    return run.catch(() => undefined);
  }

  /** Publishes periodically and on backlog changes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs } = this.options;
    while (!signal.aborted) {
      await clock.sleep(TICK_MS, signal);
      if (signal.aborted || !this.options.link.ready) continue;
      const now = clock.now();
      const reason = this.dueReason(now, intervalMs);
      if (reason !== undefined) await this.publishNow(reason);
    }
  }

  /** Builds the current status. Never rejects. */
  async build(): Promise<DeviceStatus> {
    const { clock, cursor, trimmer, memory, settings, logger } = this.options;
    const at = clock.now();
    const known = await settings.current(at);
    let measure: Awaited<ReturnType<StreamTrimmer['trimAndMeasure']>> | undefined;
    let redis: DeviceStatus['redis'];
    if (cursor.ready) {
      try {
        measure = await trimmer.trimAndMeasure(cursor.confirmed);
      } catch (error) {
        logger.debug({ event: 'status_incomplete', err: error }, 'could not measure the backlog');
      }
    }
    try {
      redis = await memory.read();
    } catch {
      redis = undefined;
    }
    const configVersion = this.options.configVersion();
    return {
      v: PROTOCOL_VERSION,
      online: true,
      at,
      ...(measure === undefined ? {} : { backlog: measure.backlog }),
      ...(cursor.ready ? { confirmed: cursor.confirmed ?? null } : {}),
      measuring: known.measuring,
      interval_seconds: known.measurementIntervalSeconds,
      ...(redis === undefined ? {} : { redis }),
      ...(configVersion === undefined ? {} : { config_version: configVersion }),
    };
  }

  private dueReason(now: number, intervalMs: number): string | undefined {
    if (now - this.lastPublishedAt >= intervalMs) return 'periodic';
    // The status on connect went out before Redis answered: complete it once Redis does.
    if (this.publishedEmpty === undefined && this.options.cursor.ready && now - this.lastPublishedAt >= SETTLE_MS) return 'complete';
    const backlog = this.options.backlog();
    if (backlog === undefined || this.publishedEmpty === undefined || backlog.empty === this.publishedEmpty) return undefined;
    // At most one change-driven status per settle time, so a backlog at the edge cannot flap it.
    if (now - this.lastPublishedAt < SETTLE_MS) return undefined;
    if (backlog.empty) return 'backlog_empty';
    const settleMs = SETTLE_MS + (this.options.settings.known.sendIntervalSeconds ?? 0) * 1000;
    return now - backlog.since >= settleMs ? 'backlog_building' : undefined;
  }

  private async publish(reason: string): Promise<void> {
    const { link, topic, logger, clock } = this.options;
    if (!link.ready) return;
    const status = await this.build();
    if (!link.publish(topic, JSON.stringify(status), { qos: 1, retain: true })) return;
    this.lastPublishedAt = clock.now();
    if (status.backlog !== undefined) this.publishedEmpty = status.backlog === 0;
    logger.info({ event: 'status_published', reason, ...status }, 'status published');
  }
}
