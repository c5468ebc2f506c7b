import { checkConfigValue, READ_ONLY_CONFIG_KEYS, REDIS_KEY, REMOTE_CONFIG_KEYS, readingKey, STREAM_KEY } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

describe('Redis keys', () => {
  it("keeps the original system's names, so its dashboards and tools keep working", () => {
    expect(REDIS_KEY).toMatchObject({
      values: 'measurement:values',
      measurementEnabled: 'measurement:enabled',
      measurementInterval: 'measurement:interval',
      senderEnabled: 'mqtt_sender:enabled',
      senderInterval: 'mqtt_sender:interval',
      senderLastId: 'mqtt_sender:last_id',
    });
    expect(STREAM_KEY).toBe(REDIS_KEY.values);
    expect(new Set(Object.values(REDIS_KEY)).size).toBe(Object.keys(REDIS_KEY).length);
  });

  it('lets the backend set only settings, never the stream or the cursor', () => {
    expect(REMOTE_CONFIG_KEYS).toEqual([REDIS_KEY.measurementEnabled, REDIS_KEY.measurementInterval, REDIS_KEY.senderEnabled, REDIS_KEY.senderInterval]);
    expect(READ_ONLY_CONFIG_KEYS).toEqual([REDIS_KEY.senderLastId]);
    expect(checkConfigValue(REDIS_KEY.senderLastId, '(1-0')).toMatchObject({ ok: false, code: 'read_only_key' });
    expect(checkConfigValue(REDIS_KEY.values, 'x')).toMatchObject({ ok: false, code: 'unknown_key' });
    expect(checkConfigValue(REDIS_KEY.measurementEnabled, 'on')).toEqual({ ok: true, value: '1' });
    expect(checkConfigValue(REDIS_KEY.measurementInterval, '5')).toEqual({ ok: true, value: '5' });
  });
});

describe('reading key', () => {
  it('is boot and sequence when the reading has them, else the stream id, and the two never collide', () => {
    expect(readingKey({ bootId: '9f2c4e1a7b3d5f60', seq: 7, streamId: '1-0' })).toBe('9f2c4e1a7b3d5f60:7');
    expect(readingKey({ bootId: null, seq: null, streamId: '1700000000000-0' })).toBe('s:1700000000000-0');
  });
});
