import { env } from '@iot/common/config';

/**
 * Every limit the receiver enforces on what devices send, in one place: the configurable ones with
 * their env variables and defaults, and the fixed ones that follow from the database schema.
 *
 * Each limit bounds something a device controls and the backend pays for: rows, columns, index
 * entries, chart series, work per message. Going over one is a recorded rejection whose detail
 * names the limit and its variable, so a person can tell a misbehaving device from a limit set
 * too low.
 */
export interface ReceiverLimits {
  /** Sensor fields in one reading (each is a chart series and a rollup row per bucket). */
  maxFieldsPerReading: number;
  /** Distinct metric names one device may ever send. */
  maxMetricsPerDevice: number;
  /** Boots a device may start per hour (each is a row in `boots` and a line on the integrity page). */
  maxNewBootsPerHour: number;
  /** Rejection rows one device may cause per minute; more are counted into one summary row. */
  rejectionsPerDevicePerMinute: number;
  /** Rejections are deleted after this many days... */
  rejectionRetentionDays: number;
  /** ...and beyond this many rows, oldest first. */
  rejectionMaxRows: number;
  /** How often retention and the rate limit's summaries are applied. */
  rejectionSweepMs: number;
  /**
   * Readings in one original-format message; the ones past it are refused. The original sends
   * its whole backlog as one message (docs/protocol.md §9), so this is about the payload limit's
   * worth of the smallest honest readings, a bound on the work one message may cost.
   */
  maxReadingsPerOriginalMessage: number;
  /** A reading measured more than this after its arrival is flagged as clock skew (docs/protocol.md §10)... */
  clockSkewFutureMs: number;
  /** ...and one measured more than this before it: longer than an honest outage's backlog. */
  clockSkewPastMs: number;
}

const DAY_MS = 86_400_000;

export const DEFAULT_LIMITS: ReceiverLimits = {
  maxFieldsPerReading: 64,
  maxMetricsPerDevice: 256,
  maxNewBootsPerHour: 60,
  rejectionsPerDevicePerMinute: 60,
  rejectionRetentionDays: 30,
  rejectionMaxRows: 100_000,
  rejectionSweepMs: 60_000,
  maxReadingsPerOriginalMessage: 200_000,
  clockSkewFutureMs: 300_000,
  clockSkewPastMs: 30 * DAY_MS,
};

/** The env variable of each configurable limit, named in rejection details. */
export const LIMIT_ENV = {
  maxFieldsPerReading: 'RECEIVER_MAX_FIELDS_PER_READING',
  maxMetricsPerDevice: 'RECEIVER_MAX_METRICS_PER_DEVICE',
  maxNewBootsPerHour: 'RECEIVER_MAX_NEW_BOOTS_PER_HOUR',
  rejectionsPerDevicePerMinute: 'RECEIVER_REJECTIONS_PER_DEVICE_PER_MINUTE',
  rejectionRetentionDays: 'RECEIVER_REJECTION_RETENTION_DAYS',
  rejectionMaxRows: 'RECEIVER_REJECTION_MAX_ROWS',
  rejectionSweepMs: 'RECEIVER_REJECTION_SWEEP_SECONDS',
  maxReadingsPerOriginalMessage: 'RECEIVER_MAX_READINGS_PER_ORIGINAL_MESSAGE',
  clockSkewFutureMs: 'RECEIVER_CLOCK_SKEW_FUTURE_SECONDS',
  clockSkewPastMs: 'RECEIVER_CLOCK_SKEW_PAST_DAYS',
} as const satisfies Record<keyof ReceiverLimits, string>;

/** Their schemas, for config.ts (validated with the rest of the receiver's environment). */
export const limitsEnv = {
  [LIMIT_ENV.maxFieldsPerReading]: env.integer(1, 1024).prefault(String(DEFAULT_LIMITS.maxFieldsPerReading)),
  [LIMIT_ENV.maxMetricsPerDevice]: env.integer(1, 100_000).prefault(String(DEFAULT_LIMITS.maxMetricsPerDevice)),
  [LIMIT_ENV.maxNewBootsPerHour]: env.integer(1, 100_000).prefault(String(DEFAULT_LIMITS.maxNewBootsPerHour)),
  [LIMIT_ENV.rejectionsPerDevicePerMinute]: env.integer(1, 1_000_000).prefault(String(DEFAULT_LIMITS.rejectionsPerDevicePerMinute)),
  [LIMIT_ENV.rejectionRetentionDays]: env.integer(1, 3650).prefault(String(DEFAULT_LIMITS.rejectionRetentionDays)),
  [LIMIT_ENV.rejectionMaxRows]: env.integer(100, 100_000_000).prefault(String(DEFAULT_LIMITS.rejectionMaxRows)),
  [LIMIT_ENV.rejectionSweepMs]: env.integer(1, 86_400).prefault(String(DEFAULT_LIMITS.rejectionSweepMs / 1000)),
  [LIMIT_ENV.maxReadingsPerOriginalMessage]: env.integer(1, 10_000_000).prefault(String(DEFAULT_LIMITS.maxReadingsPerOriginalMessage)),
  [LIMIT_ENV.clockSkewFutureMs]: env.integer(0, 10 * 365 * 86_400).prefault(String(DEFAULT_LIMITS.clockSkewFutureMs / 1000)),
  [LIMIT_ENV.clockSkewPastMs]: env.integer(1, 100 * 365).prefault(String(DEFAULT_LIMITS.clockSkewPastMs / DAY_MS)),
};

export function limitsFromConfig(config: { [K in (typeof LIMIT_ENV)[keyof typeof LIMIT_ENV]]: number }): ReceiverLimits {
  return {
    maxFieldsPerReading: config.RECEIVER_MAX_FIELDS_PER_READING,
    maxMetricsPerDevice: config.RECEIVER_MAX_METRICS_PER_DEVICE,
    maxNewBootsPerHour: config.RECEIVER_MAX_NEW_BOOTS_PER_HOUR,
    rejectionsPerDevicePerMinute: config.RECEIVER_REJECTIONS_PER_DEVICE_PER_MINUTE,
    rejectionRetentionDays: config.RECEIVER_REJECTION_RETENTION_DAYS,
    rejectionMaxRows: config.RECEIVER_REJECTION_MAX_ROWS,
    rejectionSweepMs: config.RECEIVER_REJECTION_SWEEP_SECONDS * 1000,
    maxReadingsPerOriginalMessage: config.RECEIVER_MAX_READINGS_PER_ORIGINAL_MESSAGE,
    clockSkewFutureMs: config.RECEIVER_CLOCK_SKEW_FUTURE_SECONDS * 1000,
    clockSkewPastMs: config.RECEIVER_CLOCK_SKEW_PAST_DAYS * DAY_MS,
  };
}

/**
 * Fixed by the schema: `readings.seq` and `boots.shutdown_seq` are INT columns, so a sequence
 * number past 2^31 − 1 would fail the whole batch's transaction on MariaDB (strict mode) while
 * SQLite would take it. Refused up front, the same on both, as `out_of_range`. (At one reading a
 * second a boot reaches it after 68 years.)
 */
export const MAX_STORED_SEQ = 2_147_483_647;

/** Excerpts of bad entries kept in one rejection row, beside the count of all of them. */
export const EXCERPTS_PER_REJECTION = 3;
