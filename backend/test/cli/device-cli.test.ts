import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';

const CLI = fileURLToPath(new URL('../../src/cli/device.ts', import.meta.url));
const topics = new TopicScheme();

/** The device CLI as an operator runs it, against a real broker, receiver and database. */
describe('device CLI: original answers and broadcasts (docs/original-devices.md §3)', () => {
  const stack = new BackendStack({ deviceIds: ['old-1'] });
  let db: Database;
  let device: MqttClient;
  const received: Record<string, unknown>[] = [];

  const run = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const login = stack.login('operator');
    const env = { PATH: process.env.PATH ?? '', MQTT_HOST: '127.0.0.1', MQTT_PORT: String(stack.brokerPort), MQTT_USERNAME: login.username, MQTT_PASSWORD: login.password, DATABASE_URL: stack.databaseUrl };
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    db = await stack.database();
    const login = stack.login('old-1');
    device = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...login, clientId: '', clean: true, protocolVersion: 4, reconnectPeriod: 0 });
    await device.subscribeAsync([topics.topic('request', 'old-1'), topics.topic('broadcast', 'old-1')], { qos: 0 });
    // Answers as the original software does: QoS 0, no id, reboot answered before rebooting.
    device.on('message', (_topic, payload) => {
      const command = JSON.parse(payload.toString()) as Record<string, unknown>;
      received.push(command);
      const answer = command.command === 'get_config' ? { ...command, value: '10' } : command;
      void device.publishAsync(topics.topic('response', 'old-1'), JSON.stringify(answer), { qos: 0 });
    });
    await device.publishAsync(topics.topic('values', 'old-1'), JSON.stringify([{ _id: '1700000000000-0', temperature_celsius: '20.5' }]), { qos: 1 });
    await eventually(async () => (await db.devices.getDevice('old-1'))?.protocol === 'original', 10_000, 'old-1 known as an original device');
  }, 60_000);
  afterAll(async () => {
    await device?.endAsync();
    await stack.dispose();
  });

  it('says a reboot answer of the original is received with no outcome, and exits 3', async () => {
    const result = await run(['command', 'old-1', 'reboot', '--wait', '20']);
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'answered', ok: null, outcome: 'received; outcome not reported by the device software' });
  });

  it('refuses a fleet reboot without --yes-reboot-all-devices and sends nothing', async () => {
    const before = received.length;
    const result = await run(['broadcast', 'reboot', '--wait', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^confirmation_required: .*--yes-reboot-all-devices/);
    expect(await db.commands.broadcasts.list()).toEqual([]);
    expect(received.length).toBe(before);
  });

  it('broadcasts a command and lists the broadcast with the answer of each device', async () => {
    const sent = await run(['broadcast', 'get_config', 'measurement:interval', '--wait', '0']);
    expect(sent.code).toBe(0);
    const { broadcast } = JSON.parse(sent.stdout) as { broadcast: { id: string; command: string } };
    expect(broadcast.command).toBe('get_config');
    const answers = await eventually(async () => {
      const shown = JSON.parse((await run(['broadcast-answers', broadcast.id])).stdout) as { answers: { deviceId: string; ok: boolean | null; response: unknown }[] };
      return shown.answers.length === 1 && shown.answers;
    }, 20_000, 'the answer of old-1 to the broadcast');
    expect(answers).toEqual([expect.objectContaining({ deviceId: 'old-1', ok: true, response: { command: 'get_config', key: 'measurement:interval', value: '10' } })]);
    const listed = JSON.parse((await run(['broadcasts'])).stdout) as { broadcasts: { id: string; answers: { total: number } }[] };
    expect(listed.broadcasts).toEqual([expect.objectContaining({ id: broadcast.id, answers: expect.objectContaining({ total: 1, ok: 1 }) })]);
  });
});
