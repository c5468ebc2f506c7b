import { STREAM_KEY } from '@iot/common/protocol';

/**
 * The device's Redis keys, unchanged from the original system (DESIGN.md §9) so its dashboards and
 * tools keep working.
 */
export const REDIS_KEY = {
  /** Stream of measurements, one entry per reading. */
  values: STREAM_KEY,
  /** "0" stops measuring; anything else, or missing, measures. */
  measurementEnabled: 'measurement:enabled',
  /** Seconds between measurements; missing means INTERVAL_SECONDS. */
  measurementInterval: 'measurement:interval',
  /** Uplink on/off, send interval and cursor (an id prefixed with "(" means "after this id"). */
  senderEnabled: 'mqtt_sender:enabled',
  senderInterval: 'mqtt_sender:interval',
  senderLastId: 'mqtt_sender:last_id',
} as const;
