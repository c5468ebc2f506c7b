import { eventually } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { NOW, useCommandChannel } from './command-channel.ts';
import { DEVICE } from './uplink-fixtures.ts';

const ALL_COMMANDS = ['reboot', 'get_config', 'set_config', 'send_measurements', 'start_measurement', 'stop_measurement', 'set_interval'];

/**
 * The configuration commands as production runs them: published on the device's request topic,
 * handled by the uplink against a real Redis, answered on the response topic (command-channel.ts).
 * send_measurements, reboot and Redis outages: uplink-commands-actions.test.ts.
 */
describe('commands over MQTT: payloads, configuration, ids and expiry', () => {
  const c = useCommandChannel();

  describe('invalid payloads', () => {
    it.each([
      ['not JSON', '{command: reboot', /not JSON/],
      ['a JSON array', '[{"command":"reboot"}]', /JSON object.*an array/],
      ['a JSON number', '42', /JSON object.*a number/],
      ['null', 'null', /JSON object.*null/],
      ['no command field', '{"key":"measurement:interval"}', /command/],
      ['a non-string command', '{"command":7}', /command/],
    ])('%s → invalid_command for command "unknown"', async (_what, text, message) => {
      const answer = await c.send(text);
      expect(answer).toMatchObject({ v: 1, command: 'unknown', ok: false, error: { code: 'invalid_command' } });
      expect(answer.error?.message).toMatch(message);
      expect(answer.id).toBeUndefined();
    });

    it('a command failing the schema still quotes its id and command name', async () => {
      const answer = await c.send({ v: 1, id: 'c-7', command: 'Send_Measurements', count: 0 });
      expect(answer).toMatchObject({ v: 1, id: 'c-7', command: 'send_measurements', ok: false, error: { code: 'invalid_command' } });
      expect(answer.error?.message).toMatch(/count/);
    });

    it('an unknown command lists the known ones', async () => {
      const answer = await c.send({ v: 1, id: 'u1', command: 'format_disk' });
      expect(answer).toMatchObject({ v: 1, id: 'u1', command: 'format_disk', ok: false, error: { code: 'unknown_command' } });
      for (const name of ALL_COMMANDS) expect(answer.error?.message).toContain(name);
    });
  });

  describe('get_config', () => {
    it('answers in the original format {command, key, value} plus v and ok, without an id for an original command', async () => {
      await c.bed.admin.set('measurement:interval', '5');
      expect(await c.send({ command: 'get_config', key: 'measurement:interval' })).toEqual({
        v: 1,
        command: 'get_config',
        ok: true,
        key: 'measurement:interval',
        value: '5',
      });
    });

    it('matches the command name case-insensitively and quotes a v1 id', async () => {
      await c.bed.admin.set('mqtt_sender:interval', '2');
      expect(await c.send({ v: 1, id: 'g1', command: 'GET_Config', key: 'mqtt_sender:interval' })).toEqual({
        v: 1,
        id: 'g1',
        command: 'get_config',
        ok: true,
        key: 'mqtt_sender:interval',
        value: '2',
      });
    });

    it('reads the uplink cursor (readable, not writable) and answers null for a key that is not set', async () => {
      await c.bed.admin.set('mqtt_sender:last_id', '(1700000000000-3');
      expect((await c.send({ command: 'get_config', key: 'mqtt_sender:last_id' })).value).toBe('(1700000000000-3');
      const missing = await c.send({ command: 'get_config', key: 'measurement:enabled' });
      expect(missing).toMatchObject({ ok: true, key: 'measurement:enabled', value: null });
    });

    it.each(['measurement:values', 'foo', 'MEASUREMENT:INTERVAL'])('refuses key %s with unknown_key', async (key) => {
      await c.bed.admin.set('foo', 'secret');
      const answer = await c.send({ command: 'get_config', key });
      expect(answer).toMatchObject({ command: 'get_config', ok: false, key, error: { code: 'unknown_key' } });
      expect(answer.value).toBeUndefined();
      expect(answer.error?.message).toContain('measurement:interval');
    });

    it('needs a key', async () => {
      expect((await c.send({ command: 'get_config' })).error?.code).toBe('invalid_command');
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
      expect(await c.send({ command: 'set_config', key, value })).toEqual({ v: 1, command: 'set_config', ok: true, key, value: stored });
      expect(await c.bed.admin.get(key)).toBe(stored);
    });

    it('refuses to move the uplink cursor and leaves it as it was', async () => {
      await c.bed.admin.set('mqtt_sender:last_id', '(1700000000000-3');
      const answer = await c.send({ v: 1, id: 's1', command: 'set_config', key: 'mqtt_sender:last_id', value: '0-0' });
      expect(answer).toMatchObject({ id: 's1', ok: false, key: 'mqtt_sender:last_id', error: { code: 'read_only_key' } });
      expect(await c.bed.admin.get('mqtt_sender:last_id')).toBe('(1700000000000-3');
    });

    it('refuses an unknown key without creating it', async () => {
      const answer = await c.send({ command: 'set_config', key: 'measurement:values', value: 'x' });
      expect(answer.error?.code).toBe('unknown_key');
      expect(await c.bed.admin.type('measurement:values')).toBe('none');
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
      await c.bed.admin.set(key, '7');
      const answer = await c.send({ command: 'set_config', key, value });
      expect(answer).toMatchObject({ ok: false, key, error: { code: 'invalid_value' } });
      expect(await c.bed.admin.get(key)).toBe('7');
    });

    it('start_measurement and stop_measurement write measurement:enabled', async () => {
      expect(await c.send({ command: 'STOP_MEASUREMENT' })).toMatchObject({ command: 'stop_measurement', ok: true, key: 'measurement:enabled', value: '0' });
      expect(await c.bed.admin.get('measurement:enabled')).toBe('0');
      expect(await c.send({ v: 1, id: 'm2', command: 'start_measurement' })).toMatchObject({ id: 'm2', ok: true, value: '1' });
      expect(await c.bed.admin.get('measurement:enabled')).toBe('1');
    });

    it('set_interval validates seconds like measurement:interval', async () => {
      expect(await c.send({ command: 'set_interval', seconds: 30 })).toMatchObject({ ok: true, key: 'measurement:interval', value: '30' });
      expect(await c.bed.admin.get('measurement:interval')).toBe('30');
      for (const seconds of [-5, 100_000, 'soon', undefined]) {
        expect((await c.send({ command: 'set_interval', seconds })).error?.code).toBe('invalid_value');
      }
      expect(await c.bed.admin.get('measurement:interval')).toBe('30');
    });
  });

  describe('ids, repeats and expiry', () => {
    it('answers a repeated id from memory without running the command again', async () => {
      const first = await c.send({ v: 1, id: 'dup', command: 'set_config', key: 'measurement:interval', value: '10' });
      await c.bed.admin.set('measurement:interval', '99');
      const again = await c.send({ v: 1, id: 'dup', command: 'set_config', key: 'measurement:interval', value: '10' });
      expect(again).toEqual(first);
      expect(await c.bed.admin.get('measurement:interval')).toBe('99');
      expect(c.uplink.logs.find('command_handled').map((r) => r.repeated)).toEqual([false, true]);
    });

    it('remembers the last 500 ids: the 501st new id pushes out the oldest', async () => {
      await c.send({ v: 1, id: 'oldest', command: 'set_config', key: 'measurement:interval', value: '7' });
      await c.bed.admin.set('measurement:interval', '8');
      // 499 more ids, published 50 at a time (the uplink queues at most 100 waiting messages).
      for (let from = 1; from <= 499; from += 50) {
        const before = c.bed.backend.responses.length;
        const ids = Array.from({ length: Math.min(50, 500 - from) }, (_, i) => `g${from + i}`);
        for (const id of ids) await c.bed.backend.publish('request', DEVICE, { v: 1, id, command: 'get_config', key: 'measurement:enabled' });
        await eventually(() => c.bed.backend.responses.length >= before + ids.length, 10_000, `the answers to ${ids[0]}..${ids.at(-1)}`);
      }
      await c.send({ v: 1, id: 'oldest', command: 'set_config', key: 'measurement:interval', value: '7' });
      expect(await c.bed.admin.get('measurement:interval')).toBe('8'); // 500 ids known: still a repeat
      await c.send({ v: 1, id: 'g500', command: 'get_config', key: 'measurement:enabled' });
      await c.send({ v: 1, id: 'oldest', command: 'set_config', key: 'measurement:interval', value: '7' });
      expect(await c.bed.admin.get('measurement:interval')).toBe('7'); // forgotten, so run again
    });

    it('does not run a command whose expires_at is in the past', async () => {
      const answer = await c.send({ v: 1, id: 'e1', command: 'stop_measurement', expires_at: NOW - 1 });
      expect(answer).toMatchObject({ id: 'e1', command: 'stop_measurement', ok: false, error: { code: 'expired' } });
      expect(answer.error?.message).toContain('2024-01-15T11:59:59.999Z');
      expect(await c.bed.admin.get('measurement:enabled')).toBeNull();
    });

    it('runs a command that expires now or later', async () => {
      expect((await c.send({ v: 1, id: 'e2', command: 'stop_measurement', expires_at: NOW })).ok).toBe(true);
      expect((await c.send({ v: 1, id: 'e3', command: 'start_measurement', expires_at: NOW + 60_000 })).ok).toBe(true);
      expect(await c.bed.admin.get('measurement:enabled')).toBe('1');
    });
  });
});
