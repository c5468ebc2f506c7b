import { REDIS_KEY } from './redis-keys.ts';

/**
 * Device settings the backend may change (set_config and the desired-configuration twin). The
 * original wrote any key into Redis, its uplink cursor included; only these keys are accepted,
 * each with a validated value, stored as the string the original services read.
 */
export const REMOTE_CONFIG_KEYS = [REDIS_KEY.measurementEnabled, REDIS_KEY.measurementInterval, REDIS_KEY.senderEnabled, REDIS_KEY.senderInterval] as const;
export type RemoteConfigKey = (typeof REMOTE_CONFIG_KEYS)[number];

/** Keys get_config may read but nothing remote may write. */
export const READ_ONLY_CONFIG_KEYS = [REDIS_KEY.senderLastId] as const;

export function isRemoteConfigKey(key: string): key is RemoteConfigKey {
  return (REMOTE_CONFIG_KEYS as readonly string[]).includes(key);
}

export function isReadableConfigKey(key: string): boolean {
  return isRemoteConfigKey(key) || (READ_ONLY_CONFIG_KEYS as readonly string[]).includes(key);
}

export type ConfigCheck = { ok: true; value: string } | { ok: false; code: 'unknown_key' | 'read_only_key' | 'invalid_value'; message: string };

/** Validates one key/value pair and normalises the value to what the services store. */
export function checkConfigValue(key: string, value: unknown): ConfigCheck {
  if ((READ_ONLY_CONFIG_KEYS as readonly string[]).includes(key)) {
    return { ok: false, code: 'read_only_key', message: `${key} is read-only: only the uplink moves its cursor` };
  }
  if (!isRemoteConfigKey(key)) {
    return { ok: false, code: 'unknown_key', message: `unknown key "${key}"; settable keys: ${REMOTE_CONFIG_KEYS.join(', ')}` };
  }
  const text = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  if (typeof text !== 'string') return { ok: false, code: 'invalid_value', message: `${key} needs a string or number value` };
  switch (key) {
    case REDIS_KEY.measurementEnabled:
    case REDIS_KEY.senderEnabled: {
      const on = ['1', 'true', 'on'].includes(text.toLowerCase());
      const off = ['0', 'false', 'off'].includes(text.toLowerCase());
      if (!on && !off) return { ok: false, code: 'invalid_value', message: `${key} must be 1 or 0 (got ${JSON.stringify(text)})` };
      return { ok: true, value: on ? '1' : '0' };
    }
    case REDIS_KEY.measurementInterval:
      return seconds(key, text, 86_400);
    case REDIS_KEY.senderInterval:
      return seconds(key, text, 3_600);
  }
}

function seconds(key: string, text: string, max: number): ConfigCheck {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) {
    return { ok: false, code: 'invalid_value', message: `${key} must be a number of seconds from 0 to ${max} (got ${JSON.stringify(text)})` };
  }
  return { ok: true, value: String(value) };
}
