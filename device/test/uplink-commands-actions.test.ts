import { type CommandResponse, originalReadings } from '@iot/common/protocol';
import { captureLogs, eventually } from '@iot/harness/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { CommandHandler, type PublishValues } from '../src/uplink/commands/index.ts';
import { CallbackRebooter } from '../src/uplink/rebooter.ts';
import { NOW, useCommandChannel } from './command-channel.ts';
import { DEVICE } from './uplink-fixtures.ts';

/**
 * The commands that act (send_measurements, reboot) and commands while Redis is down, as
 * production runs them: over MQTT to the uplink, answers on the response topic (command-channel.ts).
 */
describe('commands over MQTT: send_measurements, reboot, Redis down', () => {
  const c = useCommandChannel();
  /** The values messages an answer says were published (they precede it), once the backend has them. */
  const published = async (answer: CommandResponse) => {
    const { messages } = answer.result as { messages: number };
    await eventually(() => c.bed.backend.values.length >= messages, 10_000, `${messages} values messages`);
    return c.bed.backend.values;
  };
  /** A command answered after everything sent before it ran to its end, reboot included (the uplink runs commands one at a time). */
  const barrier = () => c.send({ v: 1, id: `barrier-${Math.random()}`, command: 'get_config', key: 'measurement:enabled' });

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
        await c.bed.admin.xadd('measurement:values', id, 'temperature_celsius', temperature, 'humidity_percent', '40', '_boot_id', boot, '_seq', String(seq), '_measured_at', id.split('-')[0]!);
      }
    });

    it('publishes the whole stream by default in the original readings format', async () => {
      const answer = await c.send({ command: 'send_measurements' });
      expect(answer).toEqual({ v: 1, command: 'send_measurements', ok: true, result: { count: 4, messages: 1, last_id: '3000-0' } });
      const message = (await published(answer))[0]!;
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
      const answer = await c.send({ v: 1, id: `r-${min_id}-${max_id}`, command: 'send_measurements', min_id, max_id, ...(count ? { count } : {}) });
      expect(answer.result).toMatchObject({ count: ids.length, last_id: ids.at(-1) });
      expect((await published(answer)).flat().map((r) => r._id)).toEqual(ids);
    });

    it('publishes nothing for an empty range', async () => {
      expect((await c.send({ command: 'send_measurements', min_id: '(3000-0' })).result).toEqual({ count: 0, messages: 0 });
      expect(c.bed.backend.values).toHaveLength(0);
    });

    it.each([
      ['min_id', 'abc'],
      ['min_id', '(-'],
      ['max_id', '((1000-0'],
      ['max_id', '1000-0-0'],
      ['min_id', '1000-x'],
    ])('refuses %s %s with invalid_value and publishes nothing', async (field, id) => {
      const answer = await c.send({ command: 'send_measurements', [field]: id });
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_value' } });
      expect(answer.error?.message).toContain(field);
      expect(c.bed.backend.values).toHaveLength(0);
    });

    it('sends 100 by default, at most 1000, split into messages of at most 256 KiB', async () => {
      await c.bed.admin.del('measurement:values');
      const pipeline = c.bed.admin.pipeline();
      for (let i = 1; i <= 1200; i++) pipeline.xadd('measurement:values', `${i}-0`, 'temperature_celsius', '20.125', 'note_text', 'x'.repeat(300));
      await pipeline.exec();

      const first = await c.send({ command: 'send_measurements' });
      expect(first.result).toMatchObject({ count: 100, last_id: '100-0' });
      await published(first);
      c.bed.backend.values.length = 0;

      const answer = await c.send({ command: 'send_measurements', count: 5000 });
      expect(answer.result).toMatchObject({ count: 1000, last_id: '1000-0' });
      // ~420 bytes per reading: 1000 of them do not fit in one 262144-byte message.
      const messages = await published(answer);
      expect(messages.length).toBeGreaterThanOrEqual(2);
      for (const message of messages) expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(262_144);
      expect(messages.flat().map((r) => r._id)).toEqual(Array.from({ length: 1000 }, (_, i) => `${i + 1}-0`));
    });

    it('a command delivered twice (QoS 1 redelivery) runs once, the repeat answered from memory', async () => {
      const command = { v: 1, id: 'twice', command: 'send_measurements' };
      const before = c.bed.backend.responses.length;
      await c.bed.backend.publish('request', DEVICE, command);
      await c.bed.backend.publish('request', DEVICE, command);
      const [a, b] = await eventually(() => (c.bed.backend.responses.length >= before + 2 ? c.bed.backend.responses.slice(before) : undefined), 10_000, 'two answers');
      expect(a).toEqual(b);
      expect(c.uplink.logs.find('command_handled').map((r) => r.repeated)).toEqual([false, true]);
      expect(await published(a as CommandResponse)).toHaveLength(1);
    });
  });

  describe('reboot', () => {
    it('publishes the answer, and only once the broker has it, reboots', async () => {
      const answersAtBroker = () => c.bed.aedes.received.filter((topic) => topic === c.responseTopic).length;
      const before = answersAtBroker();
      let atReboot: number | undefined;
      c.onReboot = () => {
        atReboot = answersAtBroker();
      };
      expect(await c.send({ v: 1, id: 'rb1', command: 'Reboot' })).toEqual({ v: 1, id: 'rb1', command: 'reboot', ok: true });
      await eventually(() => c.uplink.reboots === 1, 10_000, 'the reboot');
      expect(atReboot).toBe(before + 1);
      expect(c.uplink.logs.find('reboot_requested')).toHaveLength(1);
    });

    it('a repeated reboot id gets the answer again but no second reboot', async () => {
      const first = await c.send({ v: 1, id: 'rb2', command: 'reboot' });
      const again = await c.send({ v: 1, id: 'rb2', command: 'reboot' });
      await barrier();
      expect(again).toEqual(first);
      expect(c.uplink.reboots).toBe(1);
    });

    it('logs a failing reboot instead of throwing (the answer is already out)', async () => {
      c.onReboot = () => {
        throw new Error('supervisor said no');
      };
      expect((await c.send({ v: 1, id: 'rb3', command: 'reboot' })).ok).toBe(true);
      const failure = await eventually(() => c.uplink.logs.find('reboot_failed')[0], 10_000, 'the logged failure');
      expect(failure).toMatchObject({ level: 'error', id: 'rb3', err: { message: 'supervisor said no' } });
      // The uplink carries on answering.
      expect((await barrier()).ok).toBe(true);
    });

    it('an expired reboot is not run', async () => {
      expect((await c.send({ v: 1, id: 'rb4', command: 'reboot', expires_at: NOW - 60_000 })).error?.code).toBe('expired');
      await barrier();
      expect(c.uplink.reboots).toBe(0);
    });
  });

  describe('while Redis is down', () => {
    it('answers redis_unavailable, does not remember that answer, and runs the same id once Redis is back', async () => {
      await c.bed.redis.stop();
      for (const command of [
        { command: 'get_config', key: 'measurement:interval' },
        { command: 'stop_measurement' },
        { command: 'send_measurements' },
        { v: 1, id: 'later', command: 'set_config', key: 'measurement:interval', value: '12' },
      ]) {
        const answer = await c.send(command);
        expect(answer).toMatchObject({ ok: false, error: { code: 'redis_unavailable' } });
        expect(answer.error?.message).toMatch(/Redis/);
      }
      await c.bed.redis.start();
      await eventually(() => c.uplink.redis.status === 'ready', 10_000, 'the uplink reconnected to Redis');
      expect(await c.send({ v: 1, id: 'later', command: 'set_config', key: 'measurement:interval', value: '12' })).toMatchObject({ ok: true, value: '12' });
      expect(await c.bed.admin.get('measurement:interval')).toBe('12');
    });
  });

  /** Two cases the uplink never produces (it runs one command at a time and is connected), at the entry point it calls. */
  describe('CommandHandler.execute, the entry point the uplink calls', () => {
    const handler = async (publishValues: PublishValues) =>
      new CommandHandler({ redis: await c.bed.deviceRedis(), logger: captureLogs().logger, clock: c.clock, rebooter: new CallbackRebooter(() => {}), publishValues, deviceMeta: { deviceId: DEVICE } });
    const payload = (command: unknown) => Buffer.from(JSON.stringify(command));

    it('runs a repeat that arrives while the first delivery still runs once', async () => {
      await c.bed.admin.xadd('measurement:values', '1000-0', 'temperature_celsius', '20');
      let publications = 0;
      const commands = await handler(async () => {
        publications++;
      });
      const [a, b] = await Promise.all([commands.execute(payload({ v: 1, id: 'twice', command: 'send_measurements' })), commands.execute(payload({ v: 1, id: 'twice', command: 'send_measurements' }))]);
      expect(a.response).toEqual(b.response);
      expect(publications).toBe(1);
    });

    it('answers internal when publishing fails, saying how far it got', async () => {
      for (const id of ['1000-0', '2000-0']) await c.bed.admin.xadd('measurement:values', id, 'temperature_celsius', '20');
      const commands = await handler(async () => {
        throw new Error('client disconnecting');
      });
      const { response } = await commands.execute(payload({ v: 1, id: 'p1', command: 'send_measurements' }));
      expect(response).toMatchObject({ id: 'p1', ok: false, error: { code: 'internal' } });
      expect(response.error?.message).toContain('published 0 of 2 readings');
      expect(response.error?.message).toContain('client disconnecting');
    });
  });
});
