import { reportedConfig } from '@iot/common/protocol';
import { captureLogs, eventually } from '@iot/harness/testing';
import type { Redis } from 'ioredis';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigTwin } from '../src/uplink/config-twin.ts';
import { useRedisAndBroker } from './redis-and-broker.ts';

describe('ConfigTwin against a real Redis', () => {
  const bed = useRedisAndBroker({ broker: 'none' });
  let admin: Redis;
  let redis: Redis;
  let logs: ReturnType<typeof captureLogs>;
  let twin: ConfigTwin;

  beforeAll(async () => {
    admin = bed.admin;
    redis = await bed.deviceRedis();
  });
  beforeEach(() => {
    logs = captureLogs('mqtthandler');
    twin = new ConfigTwin({ redis, logger: logs.logger });
  });

  it('reports version 0 and what Redis holds before any desired config, omitting unset keys', async () => {
    await admin.set('measurement:interval', '3');
    await admin.set('mqtt_sender:last_id', '(5-0'); // not a settable key: never reported
    expect(await twin.report()).toEqual({ v: 1, version: 0, config: { 'measurement:interval': '3' } });
  });

  it('applies a newer version: normalised values in Redis, version recorded, effective config reported', async () => {
    await admin.set('mqtt_sender:interval', '1');
    const report = await twin.applyDesired({ v: 1, version: 1, config: { 'measurement:interval': '5', 'measurement:enabled': 'true' } });
    expect(report).toEqual({
      v: 1,
      version: 1,
      config: { 'measurement:enabled': '1', 'measurement:interval': '5', 'mqtt_sender:interval': '1' },
    });
    expect(reportedConfig.safeParse(report).success).toBe(true);
    expect(await admin.mget('measurement:enabled', 'measurement:interval', 'config:applied_version')).toEqual(['1', '5', '1']);
    expect(logs.find('config_applied')).toHaveLength(1);
  });

  it('re-applying the same version changes nothing', async () => {
    await twin.applyDesired({ v: 1, version: 3, config: { 'measurement:interval': '5' } });
    await admin.set('measurement:interval', '9'); // changed locally since: drift the report must show
    const report = await twin.applyDesired({ v: 1, version: 3, config: { 'measurement:interval': '5', 'mqtt_sender:enabled': '0' } });
    expect(report).toEqual({ v: 1, version: 3, config: { 'measurement:interval': '9' } });
    expect(await admin.get('mqtt_sender:enabled')).toBeNull();
    expect(logs.find('config_desired_ignored')).toHaveLength(1);
  });

  it('ignores an older version', async () => {
    await twin.applyDesired({ v: 1, version: 7, config: { 'measurement:interval': '60' } });
    const report = await twin.applyDesired({ v: 1, version: 6, config: { 'measurement:interval': '1' } });
    expect(report.version).toBe(7);
    expect(await admin.get('measurement:interval')).toBe('60');
  });

  it('applies the valid keys, refuses the others with reasons, and leaves keys it does not name alone', async () => {
    await admin.set('mqtt_sender:last_id', '(1700000000000-3');
    await admin.set('mqtt_sender:enabled', '1');
    const report = await twin.applyDesired({
      v: 1,
      version: 2,
      config: { 'measurement:interval': '10', 'mqtt_sender:last_id': '0-0', foo: '1', 'mqtt_sender:interval': 'abc' },
    });
    expect(report.version).toBe(2);
    expect(report.config).toEqual({ 'measurement:interval': '10', 'mqtt_sender:enabled': '1' });
    expect(report.errors?.map(({ key, code }) => ({ key, code }))).toEqual([
      { key: 'mqtt_sender:last_id', code: 'read_only_key' },
      { key: 'foo', code: 'unknown_key' },
      { key: 'mqtt_sender:interval', code: 'invalid_value' },
    ]);
    for (const error of report.errors ?? []) expect(error.message).toContain(error.key);
    expect(await admin.get('mqtt_sender:last_id')).toBe('(1700000000000-3');
    expect(await admin.exists('foo')).toBe(0);
    expect(await admin.get('measurement:interval')).toBe('10');
  });

  it('keeps its state in Redis: a new twin object reports the same, refusals included', async () => {
    const applied = await twin.applyDesired({ v: 1, version: 4, config: { 'measurement:enabled': 'off', 'mqtt_sender:interval': '99999' } });
    const restarted = new ConfigTwin({ redis, logger: captureLogs().logger });
    const report = await restarted.report();
    expect(report).toEqual(applied);
    expect(report).toMatchObject({ version: 4, config: { 'measurement:enabled': '0' }, errors: [{ key: 'mqtt_sender:interval', code: 'invalid_value' }] });
    // The next clean version clears the refusals.
    expect(await restarted.applyDesired({ v: 1, version: 5, config: { 'mqtt_sender:interval': '30' } })).toEqual({
      v: 1,
      version: 5,
      config: { 'measurement:enabled': '0', 'mqtt_sender:interval': '30' },
    });
  });

  it('applies concurrent desired versions one at a time, ending on the newest', async () => {
    const reports = await Promise.all([
      twin.applyDesired({ v: 1, version: 10, config: { 'measurement:interval': '10' } }),
      twin.applyDesired({ v: 1, version: 12, config: { 'measurement:interval': '12' } }),
      twin.applyDesired({ v: 1, version: 11, config: { 'measurement:interval': '11' } }),
    ]);
    expect(reports.map((r) => r.version)).toEqual([10, 12, 12]);
    expect(await admin.mget('measurement:interval', 'config:applied_version')).toEqual(['12', '12']);
  });

  it('treats a damaged applied version as 0 so the next desired version still applies', async () => {
    await admin.set('config:applied_version', 'garbage');
    expect((await twin.applyDesired({ v: 1, version: 1, config: { 'measurement:interval': '4' } })).version).toBe(1);
    expect(logs.find('bad_setting')).toHaveLength(1);
  });
});

describe('ConfigTwin while Redis is down', () => {
  const bed = useRedisAndBroker({ broker: 'none' });

  it('rejects with an Error the caller can log, and works again once Redis is back', async () => {
    const redis = await bed.deviceRedis();
    const twin = new ConfigTwin({ redis, logger: captureLogs().logger });
    await bed.redis.stop();
    await expect(twin.applyDesired({ v: 1, version: 1, config: { 'measurement:interval': '5' } })).rejects.toThrow(/could not apply desired configuration version 1/);
    await expect(twin.report()).rejects.toThrow(/could not read the device configuration/);
    await bed.redis.start();
    await eventually(() => redis.status === 'ready', 10_000, 'reconnect');
    expect(await twin.applyDesired({ v: 1, version: 1, config: { 'measurement:interval': '5' } })).toEqual({
      v: 1,
      version: 1,
      config: { 'measurement:interval': '5' },
    });
  });
});
