import type { Logger } from '@iot/common/log';
import type { Redis } from 'ioredis';
import { REDIS_KEY } from '@iot/common/protocol';

export interface MeasurementSettings {
  enabled: boolean;
  intervalSeconds: number;
}

/** The longest interval accepted from Redis: a day. Anything longer is more likely a typo. */
const MAX_INTERVAL_SECONDS = 86_400;

/**
 * Reads `measurement:enabled` and `measurement:interval` (original semantics, docs/original-system.md §4), with
 * one MGET. A bad interval in Redis is reported once per distinct value and replaced by the
 * default; while Redis is unreachable the last known settings stay in force.
 */
export class MeasurementSettingsReader {
  private last: MeasurementSettings;
  private readAt = Number.NEGATIVE_INFINITY;
  private warnedAbout: string | undefined;
  private readonly redis: Redis;
  private readonly defaultIntervalSeconds: number;
  private readonly logger: Logger;

  constructor(options: { redis: Redis; defaultIntervalSeconds: number; logger: Logger }) {
    this.redis = options.redis;
    this.defaultIntervalSeconds = options.defaultIntervalSeconds;
    this.logger = options.logger;
    this.last = { enabled: true, intervalSeconds: options.defaultIntervalSeconds };
  }

  /** Current settings, re-read from Redis when the cached ones are older than `maxAgeMs`. */
  async current(now: number, maxAgeMs: number): Promise<MeasurementSettings> {
    if (now - this.readAt < maxAgeMs) return this.last;
    try {
      const [enabled, interval] = await this.redis.mget(REDIS_KEY.measurementEnabled, REDIS_KEY.measurementInterval);
      this.last = { enabled: enabled !== '0', intervalSeconds: this.parseInterval(interval ?? null) };
      this.readAt = now;
    } catch {
      // Redis down: keep measuring with what we knew; the connection logs the outage.
    }
    return this.last;
  }

  private parseInterval(raw: string | null): number {
    if (raw === null || raw.trim() === '') return this.defaultIntervalSeconds;
    const value = Number(raw);
    if (Number.isFinite(value) && value >= 0 && value <= MAX_INTERVAL_SECONDS) {
      this.warnedAbout = undefined;
      return value;
    }
    if (this.warnedAbout !== raw) {
      this.warnedAbout = raw;
      this.logger.warn(
        { event: 'bad_setting', key: REDIS_KEY.measurementInterval, value: raw, using: this.defaultIntervalSeconds },
        `${REDIS_KEY.measurementInterval} must be a number of seconds from 0 to ${MAX_INTERVAL_SECONDS}; using the default`,
      );
    }
    return this.defaultIntervalSeconds;
  }
}
