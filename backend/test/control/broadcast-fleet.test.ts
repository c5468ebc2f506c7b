import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack, SimulatedDevice } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceControl } from '../../src/control/device-control.ts';
import type { Database } from '../../src/db/index.ts';

const topics = new TopicScheme();

/**
 * A mixed fleet on one broadcast topic: a real v1 device (its uplink process, its Redis) and a
 * client that behaves like the original software (empty client id, answers at QoS 0 without an id).
 */
describe('broadcast to a mixed fleet (docs/original-devices.md §3)', () => {
  const stack = new BackendStack({ deviceIds: ['v1-1', 'old-1'], database: 'mariadb' });
  let db: Database;
  let operator: MqttClient;
  let original: MqttClient;
  let device: SimulatedDevice;
  let control: DeviceControl;

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    db = await stack.database();
    device = await new SimulatedDevice({ id: 'v1-1', mqtt: { port: stack.brokerPort, login: stack.login('v1-1') }, intervalSeconds: 1 }).start();
    original = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('old-1'), clientId: '', clean: true, protocolVersion: 4, reconnectPeriod: 0 });
    await original.subscribeAsync(topics.topic('broadcast', 'old-1'), { qos: 0 });
    original.on('message', (_topic, payload) => {
      // The original echoes set_config as it was sent (docs/original-system.md §12).
      void original.publishAsync(topics.topic('response', 'old-1'), payload, { qos: 0 });
    });
    operator = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('operator'), clientId: 'operator-fleet-test' });
    control = new DeviceControl({ db, mqtt: operator, topics, clock: systemClock, logger: silentLogger() });
    // The v1 uplink subscribes to the broadcast topic once connected; its first readings show it is.
    await eventually(async () => (await db.readings.countReadings('v1-1')) > 0, 30_000, 'readings of v1-1');
  }, 90_000);
  afterAll(async () => {
    await original?.endAsync();
    await operator?.endAsync();
    await device?.dispose();
    await stack.dispose();
  });

  it('each device runs it and its answer is stored against the broadcast, with the outcome it reports', async () => {
    const id = await control.sendBroadcast({ command: 'set_interval', seconds: 2 }, { createdBy: 'test' });
    const found = await eventually(async () => {
      const shown = await control.broadcast(id);
      return shown !== undefined && shown.answers.length === 2 && shown;
    }, 20_000, 'both devices to answer');
    expect(found.answers).toEqual([
      expect.objectContaining({ deviceId: 'old-1', ok: true, response: { command: 'set_config', key: 'measurement:interval', value: '2' } }),
      expect.objectContaining({ deviceId: 'v1-1', ok: true, response: expect.objectContaining({ v: 1, command: 'set_config', ok: true, key: 'measurement:interval', value: '2' }) }),
    ]);
    const redis = new Redis({ host: device.redis.host, port: device.redis.port });
    try {
      expect(await redis.get('measurement:interval')).toBe('2');
    } finally {
      redis.disconnect();
    }
  });
});
