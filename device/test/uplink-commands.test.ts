import type { Clock } from '@iot/common/clock';
import { type CommandResponse, commandResponse, originalReadings } from '@iot/common/protocol';
import { RedisServer } from '@iot/harness/processes';
import { captureLogs, eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../src/redis-connection.ts';
import { CommandHandler } from '../src/uplink/commands/index.ts';
import type { Rebooter } from '../src/uplink/rebooter.ts';

const NOW = Date.UTC(2024, 0, 15, 12, 0, 0); // 1705320000000
const META = { deviceId: 'dev-1', deviceType: 'raspberrypi4-64', appId: '42', appName: 'iot-projekt' };
const ALL_COMMANDS = ['reboot', 'get_config', 'set_config', 'send_measurements', 'start_measurement', 'stop_measurement', 'set_interval'];

/** A clock that stands still; sleeps wait until the test releases them. */
class ManualClock implements Clock {
  nowMs = NOW;
  readonly sleeps: { ms: number; release: () => void }[] = [];
  now(): number {
    return this.nowMs;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((release) => this.sleeps.push({ ms, release }));
  }
}

class CountingRebooter implements Rebooter {
  calls = 0;
  failWith: Error | undefined;
  async reboot(): Promise<void> {
    this.calls++;
    if (this.failWith) throw this.failWith;
  }
}

function payload(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
}

function setup(redis: Redis, options: { publishValues?: (readings: Record<string, string>[]) => Promise<void> } = {}) {
  const logs = captureLogs('mqtthandler');
  const clock = new ManualClock();
  const rebooter = new CountingRebooter();
  const published: Record<string, string>[][] = [];
  const handler = new CommandHandler({
    redis,
    logger: logs.logger,
    clock,
    rebooter,
    publishValues:
      options.publishValues ??
      (async (readings) => {
        published.push(readings);
      }),
    deviceMeta: META,
  });
  const send = async (command: unknown): Promise<CommandResponse> => {
    const response = await handler.handle(payload(command));
    if (response === undefined) throw new Error('expected an answer');
    // Every answer must be a valid v1 response.
    expect(commandResponse.safeParse(response).success).toBe(true);
    return response;
  };
  return { handler, logs, clock, rebooter, published, send };
}

describe('CommandHandler against a real Redis', () => {
  const server = new RedisServer();
  let admin: Redis;
  let redis: Redis;
  let t: ReturnType<typeof setup>;

  beforeAll(async () => {
    await server.start();
    admin = new Redis({ host: server.host, port: server.port });
    redis = createRedisConnection({ REDIS_HOST: server.host, REDIS_PORT: server.port, REDIS_DB: 0 }, captureLogs().logger);
    await eventually(() => redis.status === 'ready', 5000, 'redis client ready');
  });
  afterAll(async () => {
    admin.disconnect();
    redis.disconnect();
    await server.dispose();
  });
  beforeEach(async () => {
    await admin.flushall();
    t = setup(redis);
  });

  describe('invalid payloads', () => {
    it.each([
      ['not JSON', '{command: reboot', /not JSON/],
      ['a JSON array', '[{"command":"reboot"}]', /JSON object.*an array/],
      ['a JSON number', '42', /JSON object.*a number/],
      ['null', 'null', /JSON object.*null/],
      ['no command field', '{"key":"measurement:interval"}', /command/],
      ['a non-string command', '{"command":7}', /command/],
    ])('%s → invalid_command for command "unknown"', async (_what, text, message) => {
      const answer = await t.send(text);
      expect(answer).toMatchObject({ v: 1, command: 'unknown', ok: false, error: { code: 'invalid_command' } });
      expect(answer.error?.message).toMatch(message);
      expect(answer.id).toBeUndefined();
    });

    it('a command failing the schema still quotes its id and command name', async () => {
      const answer = await t.send({ v: 1, id: 'c-7', command: 'Send_Measurements', count: 0 });
      expect(answer).toMatchObject({ v: 1, id: 'c-7', command: 'send_measurements', ok: false, error: { code: 'invalid_command' } });
      expect(answer.error?.message).toMatch(/count/);
    });

    it('an unknown command lists the known ones', async () => {
      const answer = await t.send({ v: 1, id: 'u1', command: 'format_disk' });
      expect(answer).toMatchObject({ v: 1, id: 'u1', command: 'format_disk', ok: false, error: { code: 'unknown_command' } });
      for (const name of ALL_COMMANDS) expect(answer.error?.message).toContain(name);
    });
  });

  describe('get_config', () => {
    it('answers in the original format {command, key, value} plus v and ok, without an id for an original command', async () => {
      await admin.set('measurement:interval', '5');
      expect(await t.send({ command: 'get_config', key: 'measurement:interval' })).toEqual({
        v: 1,
        command: 'get_config',
        ok: true,
        key: 'measurement:interval',
        value: '5',
      });
    });

    it('matches the command name case-insensitively and quotes a v1 id', async () => {
      await admin.set('mqtt_sender:interval', '2');
      expect(await t.send({ v: 1, id: 'g1', command: 'GET_Config', key: 'mqtt_sender:interval' })).toEqual({
        v: 1,
        id: 'g1',
        command: 'get_config',
        ok: true,
        key: 'mqtt_sender:interval',
        value: '2',
      });
    });

    it('reads the uplink cursor (readable, not writable) and answers null for a key that is not set', async () => {
      await admin.set('mqtt_sender:last_id', '(1700000000000-3');
      expect((await t.send({ command: 'get_config', key: 'mqtt_sender:last_id' })).value).toBe('(1700000000000-3');
      const missing = await t.send({ command: 'get_config', key: 'measurement:enabled' });
      expect(missing).toMatchObject({ ok: true, key: 'measurement:enabled', value: null });
    });

    it.each(['measurement:values', 'foo', 'MEASUREMENT:INTERVAL'])('refuses key %s with unknown_key', async (key) => {
      await admin.set('foo', 'secret');
      const answer = await t.send({ command: 'get_config', key });
      expect(answer).toMatchObject({ command: 'get_config', ok: false, key, error: { code: 'unknown_key' } });
      expect(answer.value).toBeUndefined();
      expect(answer.error?.message).toContain('measurement:interval');
    });

    it('needs a key', async () => {
      expect((await t.send({ command: 'get_config' })).error?.code).toBe('invalid_command');
    });
  });

  describe('set_config and the measurement commands', () => {
    it.each([
      ['measurement:interval', '10', '10'],
      ['measurement:interval', 2.5, '2.5'],
      ['measurement:enabled', 'true', '1'],
      ['measurement:enabled', 0, '0'],
      ['mqtt_sender:enabled', 'OFF', '0'],
      ['mqtt_sender:interval', '3600', '3600'],
    ])('sets %s to %j, stored and echoed as %s', async (key, value, stored) => {
      expect(await t.send({ command: 'set_config', key, value })).toEqual({ v: 1, command: 'set_config', ok: true, key, value: stored });
      expect(await admin.get(key)).toBe(stored);
    });

    it('refuses to move the uplink cursor and leaves it as it was', async () => {
      await admin.set('mqtt_sender:last_id', '(1700000000000-3');
      const answer = await t.send({ v: 1, id: 's1', command: 'set_config', key: 'mqtt_sender:last_id', value: '0-0' });
      expect(answer).toMatchObject({ id: 's1', ok: false, key: 'mqtt_sender:last_id', error: { code: 'read_only_key' } });
      expect(await admin.get('mqtt_sender:last_id')).toBe('(1700000000000-3');
    });

    it('refuses an unknown key without creating it', async () => {
      const answer = await t.send({ command: 'set_config', key: 'measurement:values', value: 'x' });
      expect(answer.error?.code).toBe('unknown_key');
      expect(await admin.type('measurement:values')).toBe('none');
    });

    it.each([
      ['measurement:interval', 'abc'],
      ['measurement:interval', -1],
      ['measurement:interval', 86_401],
      ['mqtt_sender:interval', 3601],
      ['measurement:enabled', 'maybe'],
      ['measurement:enabled', { on: true }],
      ['measurement:interval', undefined],
    ])('refuses %s = %j with invalid_value and keeps the old value', async (key, value) => {
      await admin.set(key, '7');
      const answer = await t.send({ command: 'set_config', key, value });
      expect(answer).toMatchObject({ ok: false, key, error: { code: 'invalid_value' } });
      expect(await admin.get(key)).toBe('7');
    });

    it('start_measurement and stop_measurement write measurement:enabled', async () => {
      expect(await t.send({ command: 'STOP_MEASUREMENT' })).toMatchObject({ command: 'stop_measurement', ok: true, key: 'measurement:enabled', value: '0' });
      expect(await admin.get('measurement:enabled')).toBe('0');
      expect(await t.send({ v: 1, id: 'm2', command: 'start_measurement' })).toMatchObject({ id: 'm2', ok: true, value: '1' });
      expect(await admin.get('measurement:enabled')).toBe('1');
    });

    it('set_interval validates seconds like measurement:interval', async () => {
      expect(await t.send({ command: 'set_interval', seconds: 30 })).toMatchObject({ ok: true, key: 'measurement:interval', value: '30' });
      expect(await admin.get('measurement:interval')).toBe('30');
      for (const seconds of [-5, 100_000, 'soon', undefined]) {
        expect((await t.send({ command: 'set_interval', seconds })).error?.code).toBe('invalid_value');
      }
      expect(await admin.get('measurement:interval')).toBe('30');
    });
  });

  describe('ids, repeats and expiry', () => {
    it('answers a repeated id from memory without running the command again', async () => {
      const first = await t.send({ v: 1, id: 'dup', command: 'set_config', key: 'measurement:interval', value: '10' });
      await admin.set('measurement:interval', '99');
      const again = await t.send({ v: 1, id: 'dup', command: 'set_config', key: 'measurement:interval', value: '10' });
      expect(again).toEqual(first);
      expect(await admin.get('measurement:interval')).toBe('99');
      expect(t.logs.find('command_handled').map((r) => r.repeated)).toEqual([false, true]);
    });

    it('runs two concurrent deliveries of one id once', async () => {
      await admin.xadd('measurement:values', '1000-0', 'temperature_celsius', '20');
      const [a, b] = await Promise.all([
        t.send({ v: 1, id: 'twice', command: 'send_measurements' }),
        t.send({ v: 1, id: 'twice', command: 'send_measurements' }),
      ]);
      expect(a).toEqual(b);
      expect(t.published).toHaveLength(1);
    });

    it('remembers the last 500 ids: the 501st new id pushes out the oldest', async () => {
      await t.send({ v: 1, id: 'oldest', command: 'set_config', key: 'measurement:interval', value: '7' });
      await admin.set('measurement:interval', '8');
      for (let i = 1; i <= 499; i++) await t.send({ v: 1, id: `g${i}`, command: 'get_config', key: 'measurement:enabled' });
      await t.send({ v: 1, id: 'oldest', command: 'set_config', key: 'measurement:interval', value: '7' });
      expect(await admin.get('measurement:interval')).toBe('8'); // 500 ids known: still a repeat
      await t.send({ v: 1, id: 'g500', command: 'get_config', key: 'measurement:enabled' });
      await t.send({ v: 1, id: 'oldest', command: 'set_config', key: 'measurement:interval', value: '7' });
      expect(await admin.get('measurement:interval')).toBe('7'); // forgotten, so run again
    });

    it('does not run a command whose expires_at is in the past', async () => {
      const answer = await t.send({ v: 1, id: 'e1', command: 'stop_measurement', expires_at: NOW - 1 });
      expect(answer).toMatchObject({ id: 'e1', command: 'stop_measurement', ok: false, error: { code: 'expired' } });
      expect(answer.error?.message).toContain('2024-01-15T11:59:59.999Z');
      expect(await admin.get('measurement:enabled')).toBeNull();
    });

    it('runs a command that expires now or later', async () => {
      expect((await t.send({ v: 1, id: 'e2', command: 'stop_measurement', expires_at: NOW })).ok).toBe(true);
      expect((await t.send({ v: 1, id: 'e3', command: 'start_measurement', expires_at: NOW + 60_000 })).ok).toBe(true);
      expect(await admin.get('measurement:enabled')).toBe('1');
    });
  });

  describe('send_measurements', () => {
    const boot = '0123456789abcdef';
    beforeEach(async () => {
      let seq = 0;
      for (const [id, temperature] of [
        ['1000-0', '21.5'],
        ['1000-1', '21.6'],
        ['2000-0', '21.7'],
        ['3000-0', '21.8'],
      ] as const) {
        seq++;
        await admin.xadd('measurement:values', id, 'temperature_celsius', temperature, 'humidity_percent', '40', '_boot_id', boot, '_seq', String(seq), '_measured_at', id.split('-')[0]!);
      }
    });

    it('publishes the whole stream by default in the original readings format', async () => {
      const answer = await t.send({ command: 'send_measurements' });
      expect(answer).toEqual({ v: 1, command: 'send_measurements', ok: true, result: { count: 4, messages: 1, last_id: '3000-0' } });
      expect(t.published).toHaveLength(1);
      const message = t.published[0]!;
      expect(originalReadings.safeParse(message).success).toBe(true);
      expect(message[0]).toEqual({
        _id: '1000-0',
        _device_uuid: 'dev-1',
        _device_type: 'raspberrypi4-64',
        _app_id: '42',
        _app_name: 'iot-projekt',
        temperature_celsius: '21.5',
        humidity_percent: '40',
        _boot_id: boot,
        _seq: '1',
        _measured_at: '1000',
      });
      expect(message.map((r) => r._id)).toEqual(['1000-0', '1000-1', '2000-0', '3000-0']);
      expect(message.map((r) => r._seq)).toEqual(['1', '2', '3', '4']);
    });

    it.each([
      ['(1000-0', '2000-0', undefined, ['1000-1', '2000-0']],
      ['1000', '(3000-0', undefined, ['1000-0', '1000-1', '2000-0']],
      ['-', '+', 2, ['1000-0', '1000-1']],
      ['(1000-1', '+', undefined, ['2000-0', '3000-0']],
      ['2000-0', '2000-0', undefined, ['2000-0']],
    ])('min_id %s, max_id %s, count %s → %j', async (min_id, max_id, count, ids) => {
      const answer = await t.send({ v: 1, id: `r-${min_id}-${max_id}`, command: 'send_measurements', min_id, max_id, ...(count ? { count } : {}) });
      expect(answer.result).toMatchObject({ count: ids.length, last_id: ids.at(-1) });
      expect(t.published.flat().map((r) => r._id)).toEqual(ids);
    });

    it('publishes nothing for an empty range', async () => {
      expect((await t.send({ command: 'send_measurements', min_id: '(3000-0' })).result).toEqual({ count: 0, messages: 0 });
      expect(t.published).toHaveLength(0);
    });

    it.each([
      ['min_id', 'abc'],
      ['min_id', '(-'],
      ['max_id', '((1000-0'],
      ['max_id', '1000-0-0'],
      ['min_id', '1000-x'],
    ])('refuses %s %s with invalid_value and publishes nothing', async (field, id) => {
      const answer = await t.send({ command: 'send_measurements', [field]: id });
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_value' } });
      expect(answer.error?.message).toContain(field);
      expect(t.published).toHaveLength(0);
    });

    it('sends 100 by default, at most 1000, split into messages of at most 256 KiB', async () => {
      await admin.del('measurement:values');
      const pipeline = admin.pipeline();
      for (let i = 1; i <= 1200; i++) pipeline.xadd('measurement:values', `${i}-0`, 'temperature_celsius', '20.125', 'note_text', 'x'.repeat(300));
      await pipeline.exec();

      expect((await t.send({ command: 'send_measurements' })).result).toMatchObject({ count: 100, last_id: '100-0' });
      t.published.length = 0;

      const answer = await t.send({ command: 'send_measurements', count: 5000 });
      expect(answer.result).toMatchObject({ count: 1000, last_id: '1000-0' });
      // ~420 bytes per reading: 1000 of them do not fit in one 262144-byte message.
      expect(t.published.length).toBeGreaterThanOrEqual(2);
      expect((answer.result as { messages: number }).messages).toBe(t.published.length);
      for (const message of t.published) expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(262_144);
      expect(t.published.flat().map((r) => r._id)).toEqual(Array.from({ length: 1000 }, (_, i) => `${i + 1}-0`));
    });

    it('answers internal when publishing fails, saying how far it got', async () => {
      const failing = setup(redis, {
        publishValues: async () => {
          throw new Error('client disconnecting');
        },
      });
      const answer = await failing.send({ v: 1, id: 'p1', command: 'send_measurements' });
      expect(answer).toMatchObject({ id: 'p1', ok: false, error: { code: 'internal' } });
      expect(answer.error?.message).toContain('published 0 of 4 readings');
      expect(answer.error?.message).toContain('client disconnecting');
    });
  });

  describe('reboot', () => {
    it('returns the answer first and reboots only when the caller runs afterResponse', async () => {
      const outcome = await t.handler.execute(payload({ v: 1, id: 'rb1', command: 'reboot' }));
      expect(outcome.response).toEqual({ v: 1, id: 'rb1', command: 'reboot', ok: true });
      expect(t.rebooter.calls).toBe(0);
      await outcome.afterResponse?.();
      expect(t.rebooter.calls).toBe(1);
      expect(t.logs.find('reboot_requested')).toHaveLength(1);
    });

    it('a repeated reboot id gets the answer again but no second reboot', async () => {
      const first = await t.handler.execute(payload({ v: 1, id: 'rb2', command: 'reboot' }));
      await first.afterResponse?.();
      const again = await t.handler.execute(payload({ v: 1, id: 'rb2', command: 'reboot' }));
      expect(again.response).toEqual(first.response);
      expect(again.afterResponse).toBeUndefined();
      expect(t.rebooter.calls).toBe(1);
    });

    it('handle() returns the answer and reboots after the delay on the injected clock', async () => {
      const answer = await t.send({ command: 'Reboot' });
      expect(answer).toEqual({ v: 1, command: 'reboot', ok: true });
      expect(t.rebooter.calls).toBe(0);
      expect(t.clock.sleeps.map((s) => s.ms)).toEqual([1000]);
      t.clock.sleeps[0]!.release();
      await eventually(() => t.rebooter.calls === 1, 2000, 'reboot after the delay');
    });

    it('logs a failing reboot instead of throwing (the answer is already out)', async () => {
      t.rebooter.failWith = new Error('supervisor said no');
      const outcome = await t.handler.execute(payload({ v: 1, id: 'rb3', command: 'reboot' }));
      expect(outcome.response.ok).toBe(true);
      await expect(outcome.afterResponse?.()).resolves.toBeUndefined();
      const [failure] = t.logs.find('reboot_failed');
      expect(failure).toMatchObject({ level: 'error', id: 'rb3', err: { message: 'supervisor said no' } });
    });

    it('an expired reboot is not run', async () => {
      const outcome = await t.handler.execute(payload({ v: 1, id: 'rb4', command: 'reboot', expires_at: NOW - 60_000 }));
      expect(outcome.response.error?.code).toBe('expired');
      expect(outcome.afterResponse).toBeUndefined();
    });
  });
});

describe('CommandHandler while Redis is down', () => {
  const server = new RedisServer();
  let redis: Redis;

  beforeAll(async () => {
    await server.start();
    redis = createRedisConnection({ REDIS_HOST: server.host, REDIS_PORT: server.port, REDIS_DB: 0 }, captureLogs().logger);
    await eventually(() => redis.status === 'ready', 5000, 'redis client ready');
  });
  afterAll(async () => {
    redis.disconnect();
    await server.dispose();
  });

  it('answers redis_unavailable, does not remember that answer, and runs the same id once Redis is back', async () => {
    const t = setup(redis);
    await server.stop();
    for (const command of [
      { command: 'get_config', key: 'measurement:interval' },
      { command: 'stop_measurement' },
      { command: 'send_measurements' },
      { v: 1, id: 'later', command: 'set_config', key: 'measurement:interval', value: '12' },
    ]) {
      const answer = await t.send(command);
      expect(answer).toMatchObject({ ok: false, error: { code: 'redis_unavailable' } });
      expect(answer.error?.message).toMatch(/Redis/);
    }
    await server.start();
    await eventually(() => redis.status === 'ready', 10_000, 'reconnect');
    expect(await t.send({ v: 1, id: 'later', command: 'set_config', key: 'measurement:interval', value: '12' })).toMatchObject({ ok: true, value: '12' });
    expect(await redis.get('measurement:interval')).toBe('12');
  });
});
