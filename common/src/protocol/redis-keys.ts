/**
 * Every Redis key of a device, defined once. The names are the original system's (docs/original-system.md §3),
 * unchanged so its dashboards and tools keep working. They live in common, not in device/, because
 * the backend names them too: set_config and the configuration twin write an original device's
 * keys remotely, and the harness inspects a simulated device's Redis.
 */
export const REDIS_KEY = {
  /** Stream of measurements, one entry per reading (stream.ts defines the entry format). */
  values: 'measurement:values',
  /** "0" stops measuring; anything else, or missing, measures. */
  measurementEnabled: 'measurement:enabled',
  /** Seconds between measurements; missing means INTERVAL_SECONDS. */
  measurementInterval: 'measurement:interval',
  /** Uplink on/off and send interval. */
  senderEnabled: 'mqtt_sender:enabled',
  senderInterval: 'mqtt_sender:interval',
  /** The uplink's confirmed cursor: an id prefixed with "(" means "after this id". */
  senderLastId: 'mqtt_sender:last_id',
  /** Configuration twin: the desired-config version applied last, a decimal integer; missing means 0. */
  configAppliedVersion: 'config:applied_version',
  /** Configuration twin: JSON array of `{ key, code, message }` the device refused; missing means none. */
  configAppliedErrors: 'config:applied_errors',
} as const;

export type RedisKey = (typeof REDIS_KEY)[keyof typeof REDIS_KEY];

/** The measurement stream's key, the name most code needs. */
export const STREAM_KEY = REDIS_KEY.values;
