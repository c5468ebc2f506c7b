import { REDIS_KEY } from '../src/redis-keys.ts';
import { MosquittoServer, RedisServer } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addReadings, DEVICE, readRetained, startUplink, TestBackend } from './uplink-fixtures.ts';

/**
 * MQTT_PROTOCOL_VERSION=5 against a broker that speaks it (Mosquitto 2; our aedes broker speaks
 * 3.1.1 only, which is why 4 is the default).
 */
describe('uplink over MQTT 5', () => {
  const redisServer = new RedisServer();
  const mosquitto = new MosquittoServer();
  let admin: Redis;

  beforeAll(async () => {
    await redisServer.start();
    await mosquitto.start();
    admin = new Redis({ host: redisServer.host, port: redisServer.port });
  });
  afterAll(async () => {
    admin.disconnect();
    await mosquitto.dispose();
    await redisServer.dispose();
  });

  it('delivers readings end to end and keeps its status retained', async () => {
    const backend = await new TestBackend().connect(mosquitto.url);
    const ids = await addReadings(admin, 1, 50);
    const running = await startUplink({
      REDIS_HOST: redisServer.host,
      REDIS_PORT: String(redisServer.port),
      MQTT_HOST: mosquitto.host,
      MQTT_PORT: String(mosquitto.port),
      MQTT_PROTOCOL_VERSION: '5',
      UPLINK_BATCH_MAX_COUNT: '20',
    });
    try {
      await eventually(async () => (await admin.get(REDIS_KEY.senderLastId)) === `(${ids[49]}`, 10_000, 'the cursor at the last reading');
      expect(backend.readings.size).toBe(50);
      expect(running.logs.find('uplink_connected')[0]).toMatchObject({ protocol_version: 5 });
      expect(await readRetained(mosquitto.url, `iot-projekt/device/${DEVICE}/status`)).toMatchObject({ v: 1, online: true });
    } finally {
      await running.stop();
      await backend.close();
    }
    expect(await readRetained(mosquitto.url, `iot-projekt/device/${DEVICE}/status`)).toMatchObject({ v: 1, online: false });
  });
});
