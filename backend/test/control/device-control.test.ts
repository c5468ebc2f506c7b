import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack } from '@iot/harness';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError, DeviceControl, originalCommand } from '../../src/control/device-control.ts';
import { type Database, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';

/** What a device receives on its request topic, through a real aedes broker. */
describe('device control speaks each device its own protocol', () => {
  let stack: BackendStack;
  let db: Database;
  let operator: MqttClient;
  let control: DeviceControl;
  const received = new Map<string, unknown[]>();
  const devices: MqttClient[] = [];
  const topics = new TopicScheme();

  beforeAll(async () => {
    stack = await new BackendStack({ deviceIds: ['old-1', 'new-1'] }).start();
    db = await openDatabase(parseDatabaseUrl(stack.databaseUrl));
    const reading = { bootId: null, seq: null, streamId: '1700000000000-0', measuredAt: 1_700_000_000_000, values: { temperature_celsius: 20 } };
    await db.readings.storeReadings('old-1', [reading], { protocol: 'original' });
    await db.readings.storeReadings('new-1', [{ ...reading, bootId: 'a1b2c3d4e5f60718', seq: 1 }], { protocol: 'v1' });
    for (const id of ['old-1', 'new-1']) {
      const login = stack.login(id);
      const client = await mqtt.connectAsync({ port: stack.brokerPort, host: '127.0.0.1', username: login.username, password: login.password, clientId: `device-${id}` });
      await client.subscribeAsync(topics.topic('request', id), { qos: 1 });
      client.on('message', (_topic, payload) => received.set(id, [...(received.get(id) ?? []), JSON.parse(payload.toString())]));
      devices.push(client);
    }
    const login = stack.login('operator');
    operator = await mqtt.connectAsync({ port: stack.brokerPort, host: '127.0.0.1', username: login.username, password: login.password, clientId: 'operator-test' });
    control = new DeviceControl({ db, mqtt: operator, topics, clock: systemClock, logger: silentLogger() });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...devices, operator].map((c) => c?.endAsync()));
    await db?.close();
    await stack?.dispose();
  });

  const nextMessage = async (id: string, count: number) => {
    for (let i = 0; i < 100 && (received.get(id)?.length ?? 0) < count; i++) await new Promise((r) => setTimeout(r, 50));
    return received.get(id)?.[count - 1];
  };

  it('turns start, stop and interval into the original set_config commands, and records both', async () => {
    const id = await control.sendCommand('old-1', { command: 'stop_measurement' });
    expect(await nextMessage('old-1', 1)).toEqual({ command: 'set_config', key: 'measurement:enabled', value: '0' });
    expect(await db.commands.get(id)).toMatchObject({ command: 'set_config', args: { key: 'measurement:enabled', value: '0', requested: 'stop_measurement' }, state: 'delivered' });
    await control.sendCommand('old-1', { command: 'set_interval', seconds: 5 });
    expect(await nextMessage('old-1', 2)).toEqual({ command: 'set_config', key: 'measurement:interval', value: '5' });
    await control.sendCommand('old-1', { command: 'reboot' });
    expect(await nextMessage('old-1', 3)).toEqual({ command: 'reboot' });
  });

  it('sends v1 devices the v1 command with id and expiry', async () => {
    const id = await control.sendCommand('new-1', { command: 'stop_measurement' });
    expect(await nextMessage('new-1', 1)).toMatchObject({ v: 1, id, command: 'stop_measurement', expires_at: expect.any(Number) });
    expect((await db.commands.get(id))?.args).toEqual({ command: 'stop_measurement' });
  });

  it('refuses a configuration twin for an original device and a bad interval, saying what to do', async () => {
    await expect(control.setDesiredConfig('old-1', { 'measurement:interval': '5' })).rejects.toThrow(/original protocol.*set_config/);
    expect(() => originalCommand({ command: 'set_interval', seconds: -1 })).toThrow(ControlError);
    expect(await db.configs.getDesired('old-1')).toBeUndefined();
  });
});
