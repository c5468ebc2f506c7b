import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack, type DatabaseKind } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError, DeviceControl } from '../../src/control/device-control.ts';
import type { Database } from '../../src/db/index.ts';

const topics = new TopicScheme();

/** A device client: what it was sent (request and broadcast topics), and a way to answer. */
class HandDevice {
  readonly received: unknown[] = [];
  readonly id: string;
  readonly client: MqttClient;

  constructor(id: string, client: MqttClient) {
    this.id = id;
    this.client = client;
    client.on('message', (_topic, payload) => this.received.push(JSON.parse(payload.toString())));
  }

  static async connect(stack: BackendStack, id: string): Promise<HandDevice> {
    const login = stack.login(id);
    const client = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...login, clientId: `device-${id}`, protocolVersion: 4, reconnectPeriod: 0 });
    await client.subscribeAsync([topics.topic('request', id), topics.topic('broadcast', id)], { qos: 1 });
    return new HandDevice(id, client);
  }

  /** An answer as the original sends it: QoS 0, no id (docs/original-system.md §12, §14). */
  answer(body: Record<string, unknown>, qos: 0 | 1 = 0): Promise<unknown> {
    return this.client.publishAsync(topics.topic('response', this.id), JSON.stringify(body), { qos });
  }

  /** An original readings message on `values`. */
  values(streamIds: readonly string[]): Promise<unknown> {
    const readings = streamIds.map((id) => ({ _id: id, _device_uuid: this.id, temperature_celsius: '21.5' }));
    return this.client.publishAsync(topics.topic('values', this.id), JSON.stringify(readings), { qos: 1 });
  }

  async nextMessage(count: number): Promise<unknown> {
    return eventually(() => this.received.length >= count && this.received[count - 1], 10_000, `message ${count} on ${this.id}`);
  }
}

describe.each<DatabaseKind>(['sqlite', 'mariadb'])('answers without a command id, on %s (docs/original-devices.md §3)', (database) => {
  const stack = new BackendStack({ deviceIds: ['old-1', 'old-2', 'new-1'], database });
  let db: Database;
  let operator: MqttClient;
  let control: DeviceControl;
  let old1: HandDevice;
  let old2: HandDevice;
  let new1: HandDevice;

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    db = await stack.database();
    old1 = await HandDevice.connect(stack, 'old-1');
    old2 = await HandDevice.connect(stack, 'old-2');
    new1 = await HandDevice.connect(stack, 'new-1');
    // The devices become known (and known as original) from their readings.
    await old1.values(['1700000000000-0', '1700000000001-0', '1700000000002-0']);
    await old2.values(['1700000000000-0']);
    await db.readings.storeReadings('new-1', [{ bootId: 'a1b2c3d4e5f60718', seq: 1, streamId: '1700000000000-0', measuredAt: 1_700_000_000_000, values: { temperature_celsius: 20 } }], { protocol: 'v1' });
    await eventually(async () => (await db.readings.countReadings('old-1')) === 3 && (await db.readings.countReadings('old-2')) === 1, 10_000, 'the readings of the original devices');
    const login = stack.login('operator');
    operator = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...login, clientId: 'operator-test' });
    control = new DeviceControl({ db, mqtt: operator, topics, clock: systemClock, logger: silentLogger() });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([old1, old2, new1].map((d) => d?.client.endAsync()));
    await operator?.endAsync();
    await stack.dispose();
  });

  const settled = (id: string) => eventually(async () => {
    const command = await db.commands.get(id);
    return command?.state === 'answered' && command;
  }, 10_000, `command ${id} answered`);

  it('ties a get_config answer to the command with that key, not to an older one whose answer was lost', async () => {
    const lost = await control.sendCommand('old-1', { command: 'get_config', key: 'measurement:interval' });
    const later = await control.sendCommand('old-1', { command: 'get_config', key: 'measurement:enabled' });
    // The answer to `lost` never arrives (QoS 0); the device answers the later one.
    await old1.answer({ command: 'get_config', key: 'measurement:enabled', value: '1' });
    expect(await settled(later)).toMatchObject({ ok: true, response: { key: 'measurement:enabled', value: '1' } });
    expect((await db.commands.get(lost))?.state).toBe('delivered');
  });

  it('ties a set_config echo to the command with that key and value', async () => {
    const five = await control.sendCommand('old-1', { command: 'set_interval', seconds: 5 });
    const seven = await control.sendCommand('old-1', { command: 'set_interval', seconds: 7 });
    await old1.answer({ command: 'set_config', key: 'measurement:interval', value: '7' });
    expect(await settled(seven)).toMatchObject({ ok: true });
    expect((await db.commands.get(five))?.state).toBe('delivered');
  });

  it('records the original reboot answer as received with no outcome (ok null), never as ok', async () => {
    const id = await control.sendCommand('old-1', { command: 'reboot' });
    await old1.answer({ command: 'REBOOT' });
    expect(await settled(id)).toMatchObject({ state: 'answered', ok: null, response: { command: 'REBOOT' } });
  });

  it('takes re-sent readings inside the range of a send_measurements as its answer, with their count', async () => {
    const id = await control.sendCommand('old-1', { command: 'send_measurements', min_id: '1700000000001', max_id: '1700000000002', count: 10 });
    // Duplicates outside the range (a re-delivered live message) answer nothing; the range does.
    await old1.values(['1700000000000-0', '1700000000001-0']);
    await old1.values(['1700000000001-0', '1700000000002-0', '1700000000002-1']);
    expect(await settled(id)).toMatchObject({ ok: true, response: { count: 3 } });
  });

  it('broadcasts in the original format and stores one answer per device, whichever protocol it speaks', async () => {
    const before = [old1, old2, new1].map((d) => d.received.length);
    const id = await control.sendBroadcast({ command: 'set_interval', seconds: 9 }, { createdBy: 'test' });
    const sent = { command: 'set_config', key: 'measurement:interval', value: '9' };
    for (const [i, device] of [old1, old2, new1].entries()) expect(await device.nextMessage(before[i]! + 1)).toEqual(sent);
    await old1.answer(sent);
    await old1.answer(sent); // a second answer of the same device adds no row
    await new1.answer({ v: 1, command: 'set_config', ok: false, key: 'measurement:interval', error: { code: 'redis_unavailable', message: 'down' } }, 1);
    const answers = await eventually(async () => {
      const found = await control.broadcast(id);
      return found !== undefined && found.answers.length === 2 && found;
    }, 10_000, 'two answers to the broadcast');
    expect(answers.broadcast).toMatchObject({ state: 'sent', command: 'set_config', args: { ...sent, requested: 'set_interval' }, createdBy: 'test', answers: { total: 2, ok: 1, failed: 1, notReported: 0 } });
    expect(answers.answers.map((a) => [a.deviceId, a.ok])).toEqual([
      ['new-1', false],
      ['old-1', true],
    ]);
    await old2.answer({ command: 'reboot' }); // matches nothing: no reboot was broadcast
    await old2.answer(sent);
    await eventually(async () => (await control.broadcast(id))?.answers.length === 3, 10_000, 'the third answer');
  });

  it('refuses a fleet reboot without confirmation and a broadcast send_measurements, sending nothing', async () => {
    const before = (await db.commands.broadcasts.list()).length;
    await expect(control.sendBroadcast({ command: 'reboot' })).rejects.toMatchObject({ code: 'confirmation_required' });
    await expect(control.sendBroadcast({ command: 'send_measurements' })).rejects.toThrow(ControlError);
    await expect(control.sendBroadcast({ command: 'set_config', key: 'mqtt_sender:last_id', value: '0-0' })).rejects.toMatchObject({ code: 'read_only_key' });
    expect((await db.commands.broadcasts.list()).length).toBe(before);
    const id = await control.sendBroadcast({ command: 'reboot' }, { confirmed: true });
    await old2.answer({ command: 'reboot' });
    await eventually(async () => (await control.broadcast(id))?.answers[0]?.ok === null && (await control.broadcast(id))?.broadcast.answers.notReported === 1, 10_000, 'the reboot answer, outcome not reported');
  });
});
