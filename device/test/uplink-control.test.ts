import { deviceStatus, reportedConfig, STREAM_KEY } from '@iot/common/protocol';
import { eventually } from '@iot/harness/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { REDIS_KEY } from '@iot/common/protocol';
import { useRedisAndBroker } from './redis-and-broker.ts';
import { addReadings, BOOT, DEVICE } from './uplink-fixtures.ts';

/** The device's side of status, commands and the configuration twin, as the backend sees it. */
describe('uplink status, commands and configuration twin', () => {
  const bed = useRedisAndBroker({ backend: true });
  beforeEach(() => bed.backend.clearRetained(DEVICE));

  const start = (env: Record<string, string> = {}) => bed.startUplink(env);
  const response = (id: string) => eventually(() => bed.backend.responses.find((r) => r?.id === id), 5000, `the answer to ${id}`);

  it('reports backlog, confirmed cursor, settings and Redis memory, and again when the backlog empties', async () => {
    const ids = await addReadings(bed.admin, 1, 5);
    bed.backend.holding = true;
    const uplink = await start({ INTERVAL_SECONDS: '3' });
    // Complete once Redis answers (a status on connect may precede the Redis connection).
    const first = await eventually(() => bed.backend.statuses.find((s) => s.online && s.backlog !== undefined && s.config_version !== undefined), 8000, 'the status');
    expect(deviceStatus.parse(first)).toEqual(first);
    expect(first).toMatchObject({ v: 1, online: true, backlog: 5, confirmed: null, measuring: true, interval_seconds: 3, config_version: 0 });
    // The device's redis.conf: maxmemory 100mb.
    expect(first.redis).toEqual({ used_memory: expect.any(Number), maxmemory: 100 * 1024 * 1024, full: false });
    expect(first.redis!.used_memory).toBeGreaterThan(100_000);

    await bed.admin.set(REDIS_KEY.measurementEnabled, '0');
    await bed.admin.set(REDIS_KEY.measurementInterval, '7');
    await bed.backend.release();
    const drained = await eventually(() => bed.backend.statuses.find((s) => s.backlog === 0), 8000, 'the status with an empty backlog');
    expect(drained).toMatchObject({ online: true, backlog: 0, confirmed: ids[4], measuring: false, interval_seconds: 7 });
    expect(uplink.logs.find('status_published').map((r) => r.reason)).toContain('backlog_empty');
  });

  it('reports Redis as full when it reaches maxmemory', async () => {
    const uplink = await start({ UPLINK_STATUS_SECONDS: '1' });
    await eventually(() => bed.backend.statuses.find((s) => s.online), 5000, 'a status');
    const info = await bed.admin.info('memory');
    const used = Number(/^used_memory:(\d+)/m.exec(info)![1]);
    await bed.admin.config('SET', 'maxmemory', String(Math.floor(used * 0.97)));
    try {
      const full = await eventually(() => bed.backend.statuses.find((s) => s.redis?.full === true), 5000, 'a status saying full');
      expect(full.redis!.maxmemory).toBe(Math.floor(used * 0.97));
      expect(uplink.logs.find('redis_full')).toHaveLength(1);
      expect(uplink.logs.find('redis_full')[0]!.level).toBe('error');
    } finally {
      await bed.admin.config('SET', 'maxmemory', '100mb');
    }
  });

  it('answers commands from the request and broadcast topics on the response topic', async () => {
    const ids = await addReadings(bed.admin, 1, 4);
    const uplink = await start();
    // Online means subscribed: the status goes out once the subscriptions are granted.
    await eventually(() => bed.backend.statuses.find((s) => s.online), 5000, 'the uplink online');

    await bed.backend.publish('request', DEVICE, { v: 1, id: 'c-1', command: 'get_config', key: 'mqtt_sender:interval' });
    expect(await response('c-1')).toEqual({ v: 1, id: 'c-1', command: 'get_config', ok: true, key: 'mqtt_sender:interval', value: null });

    await bed.backend.publish('broadcast', DEVICE, { v: 1, id: 'c-2', command: 'SET_CONFIG', key: 'measurement:interval', value: 5 });
    expect(await response('c-2')).toMatchObject({ id: 'c-2', command: 'set_config', ok: true, key: 'measurement:interval', value: '5' });
    expect(await bed.admin.get(REDIS_KEY.measurementInterval)).toBe('5');

    await bed.backend.publish('request', DEVICE, { v: 1, id: 'c-3', command: 'send_measurements', min_id: '-', max_id: '+', count: 3 });
    expect(await response('c-3')).toMatchObject({ id: 'c-3', ok: true, result: { count: 3 } });
    const values = await eventually(() => bed.backend.values[0], 5000, 'the readings on the values topic');
    expect(values.map((r) => [r._id, r._device_uuid, r._boot_id])).toEqual(ids.slice(0, 3).map((id) => [id, DEVICE, BOOT]));

    await bed.backend.publish('request', DEVICE, { v: 1, id: 'c-4', command: 'reboot' });
    expect(await response('c-4')).toMatchObject({ id: 'c-4', command: 'reboot', ok: true });
    await eventually(() => uplink.reboots === 1, 5000, 'the reboot after the answer');

    await bed.backend.publish('request', DEVICE, '{ not json');
    await eventually(() => bed.backend.responses.find((r) => r?.ok === false), 5000, 'the refusal');
    expect(uplink.logs.find('command_handled').length).toBeGreaterThanOrEqual(5);
  });

  it('ignores a retained command, which would otherwise run on every connect', async () => {
    await bed.backend.publish('request', DEVICE, { command: 'stop_measurement' }, true);
    const uplink = await start();
    await eventually(() => uplink.logs.find('command_ignored')[0], 5000, 'the retained command ignored');
    expect(await bed.admin.get(REDIS_KEY.measurementEnabled)).toBeNull();
  });

  it('applies a desired configuration, reports it, and reports again on every connect', async () => {
    await bed.backend.publish(
      'configDesired',
      DEVICE,
      { v: 1, version: 3, config: { 'mqtt_sender:interval': '0.5', 'measurement:enabled': 'off', 'mqtt_sender:last_id': '(0-1' } },
      true,
    );
    const first = await start();
    const applied = await eventually(() => bed.backend.reported.find((r) => r.version === 3), 5000, 'the report of version 3');
    expect(reportedConfig.parse(applied)).toEqual({
      v: 1,
      version: 3,
      config: { 'measurement:enabled': '0', 'mqtt_sender:interval': '0.5' },
      errors: [{ key: 'mqtt_sender:last_id', code: 'read_only_key', message: expect.any(String) }],
    });
    expect(await bed.admin.mget(REDIS_KEY.senderInterval, REDIS_KEY.measurementEnabled, REDIS_KEY.senderLastId)).toEqual(['0.5', '0', null]);

    // Reconnect (a restarted uplink): the report goes out again, the old version is not re-applied.
    await first.stop();
    const reportsBefore = bed.backend.reported.length;
    const again = await start();
    await eventually(() => bed.backend.reported.length > reportsBefore, 5000, 'the report on connect');
    expect(bed.backend.reported.at(-1)).toMatchObject({ version: 3 });
    await eventually(() => again.logs.find('config_desired_ignored')[0], 5000, 'the retained version recognised as applied');

    await bed.backend.publish('configDesired', DEVICE, '{"v":1,"version":"four"}');
    await eventually(() => again.logs.find('config_desired_invalid')[0], 5000, 'the invalid desired configuration');
    expect(await bed.admin.xlen(STREAM_KEY)).toBe(0);
  });
});
