import { eventually } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { REDIS_KEY } from '@iot/common/protocol';
import { useRedisAndBroker } from './redis-and-broker.ts';
import { addReadings, DEVICE, readRetained } from './uplink-fixtures.ts';

/**
 * MQTT_PROTOCOL_VERSION=5 against a broker that speaks it (Mosquitto 2; our aedes broker speaks
 * 3.1.1 only, which is why 4 is the default).
 */
describe('uplink over MQTT 5', () => {
  const bed = useRedisAndBroker({ broker: 'mosquitto', backend: true });
  const statusTopic = `iot-projekt/device/${DEVICE}/status`;

  it('delivers readings end to end and keeps its status retained', async () => {
    const ids = await addReadings(bed.admin, 1, 50);
    const running = await bed.startUplink({ MQTT_PROTOCOL_VERSION: '5', UPLINK_BATCH_MAX_COUNT: '20' });
    await eventually(async () => (await bed.admin.get(REDIS_KEY.senderLastId)) === `(${ids[49]}`, 10_000, 'the cursor at the last reading');
    expect(bed.backend.readings.size).toBe(50);
    expect(running.logs.find('uplink_connected')[0]).toMatchObject({ protocol_version: 5 });
    expect(await readRetained(bed.broker.url, statusTopic)).toMatchObject({ v: 1, online: true });
    await running.stop();
    expect(await readRetained(bed.broker.url, statusTopic)).toMatchObject({ v: 1, online: false });
  });
});
