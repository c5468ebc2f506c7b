import type { Logger } from '@iot/common/log';
import type { Redis } from 'ioredis';
import { REDIS_KEY } from '@iot/common/protocol';

export interface SenderSettings {
  /** `mqtt_sender:enabled` is not "0". */
  sending: boolean;
  /**
   * `mqtt_sender:interval` where it is set: at most one batch per this many seconds unless a full
   * batch waits. Undefined where it is not set (or not a number): adaptive batching (batch-sender.ts).
   */
  sendIntervalSeconds: number | undefined;
  /** `measurement:enabled` is not "0" (for the status). */
  measuring: boolean;
  /** `measurement:interval`, or the sensor's default (for the status). */
  measurementIntervalSeconds: number;
}

/** Settings are read at most this often (the brief: "check these keys at most every ~1 s"). */
export const SETTINGS_MAX_AGE_MS = 1000;
const MAX_SEND_INTERVAL_SECONDS = 3600;
const MAX_MEASUREMENT_INTERVAL_SECONDS = 86_400;

/**
 * Reads the original's switches (docs/original-system.md §5) with one MGET, at most once a second. A bad value
 * is reported once per distinct value and replaced by the default; while Redis is unreachable the
 * last known settings stay in force.
 */
export class SenderSettingsReader {
  private last: SenderSettings;
  private readAt = Number.NEGATIVE_INFINITY;
  private readonly warned = new Map<string, string>();
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly defaultMeasurementIntervalSeconds: number;

  constructor(options: { redis: Redis; logger: Logger; defaultMeasurementIntervalSeconds: number }) {
    this.redis = options.redis;
    this.logger = options.logger;
    this.defaultMeasurementIntervalSeconds = options.defaultMeasurementIntervalSeconds;
    this.last = {
      sending: true,
      sendIntervalSeconds: undefined,
      measuring: true,
      measurementIntervalSeconds: options.defaultMeasurementIntervalSeconds,
    };
  }

  /** The settings, re-read when older than {@link SETTINGS_MAX_AGE_MS}. Never rejects. */
  async current(now: number): Promise<SenderSettings> {
    if (now - this.readAt < SETTINGS_MAX_AGE_MS) return this.last;
    try {
      const [sending, sendInterval, measuring, measurementInterval] = await this.redis.mget(
        REDIS_KEY.senderEnabled,
        REDIS_KEY.senderInterval,
        REDIS_KEY.measurementEnabled,
        REDIS_KEY.measurementInterval,
      );
      this.last = {
        sending: sending !== '0',
        sendIntervalSeconds: this.seconds(REDIS_KEY.senderInterval, sendInterval ?? null, undefined, MAX_SEND_INTERVAL_SECONDS),
        measuring: measuring !== '0',
        measurementIntervalSeconds: this.seconds(
          REDIS_KEY.measurementInterval,
          measurementInterval ?? null,
          this.defaultMeasurementIntervalSeconds,
          MAX_MEASUREMENT_INTERVAL_SECONDS,
        ),
      };
      this.readAt = now;
    } catch {
      // Redis down: keep the last known settings; the connection logs the outage.
    }
    return this.last;
  }

  /** The last settings read, without asking Redis. */
  get known(): SenderSettings {
    return this.last;
  }

  private seconds<F extends number | undefined>(key: string, raw: string | null, fallback: F, max: number): number | F {
    if (raw === null || raw.trim() === '') return fallback;
    const value = Number(raw);
    if (Number.isFinite(value) && value >= 0 && value <= max) {
      this.warned.delete(key);
      return value;
    }
    if (this.warned.get(key) !== raw) {
      this.warned.set(key, raw);
      this.logger.warn(
        { event: 'bad_setting', key, value: raw, using: fallback ?? 'adaptive' },
        `${key} must be a number of seconds from 0 to ${max}; using the default${fallback === undefined ? ' (adaptive batching)' : ''}`,
      );
    }
    return fallback;
  }
}
