import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack, checkSystem, SimulatedDevice } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceControl } from '../../src/control/device-control.ts';

/**
 * The whole path with real processes: simulated devices (redis-server, sensor, uplink), a broker,
 * receivers and MariaDB. The checker compares what the sensors recorded with the database.
 */
describe('end to end: every recorded reading is stored exactly once', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const dispose of cleanup.splice(0).reverse()) await dispose().catch(() => {});
  });

  async function system(options: { devices: string[]; broker?: 'aedes' | 'mosquitto'; receivers?: number; group?: string; interval?: number }) {
    const stack = await new BackendStack({ deviceIds: options.devices, broker: options.broker ?? 'aedes' }).start();
    cleanup.push(() => stack.dispose());
    for (let i = 0; i < (options.receivers ?? 1); i++) {
      await stack.startReceiver({ ...(options.group === undefined ? {} : { group: options.group }), env: { LOG_LEVEL: 'debug' } });
    }
    const devices = await Promise.all(
      options.devices.map(async (id) => {
        const device = new SimulatedDevice({ id, mqtt: { port: stack.brokerPort, login: stack.login(id) }, intervalSeconds: options.interval ?? 0.05 });
        cleanup.push(() => device.dispose());
        return device.start();
      }),
    );
    return { stack, devices, db: await stack.database() };
  }

  const recordedCount = (device: SimulatedDevice) => device.history().length;
  const uplinkEvents = (device: SimulatedDevice, event: string) => device.uplink!.logs().filter((r) => r.event === event).length;
  const disconnects = (device: SimulatedDevice) => uplinkEvents(device, 'uplink_disconnected');
  /** Each connection logs one connect and, when it is lost, one disconnect. */
  const connected = (device: SimulatedDevice) => uplinkEvents(device, 'uplink_connected') > disconnects(device);

  it('readings flow, and a clean stop reaches the database as a shutdown marker', async () => {
    const { devices, db } = await system({ devices: ['e2e-1'] });
    await eventually(() => recordedCount(devices[0]!) >= 60, 20_000, '60 recorded readings');
    const report = await checkSystem(db, devices);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, corrupted: 0, unexpected: 0 });
    expect(report.recorded).toBeGreaterThanOrEqual(60);
    const [boot] = await db.readings.gaps('e2e-1');
    expect(boot).toMatchObject({ missing: [], shutdownSeq: report.recorded });
  }, 90_000);

  it('the broker SIGKILLed mid-stream and restarted: no loss, no duplicates', async () => {
    const { stack, devices, db } = await system({ devices: ['e2e-2', 'e2e-3'] });
    await eventually(() => devices.every((d) => recordedCount(d) >= 30), 20_000, 'readings flowing');
    for (let round = 0; round < 2; round++) {
      // Kill it only while every uplink is connected, so each has a connection to lose.
      await eventually(() => devices.every(connected), 20_000, 'every device connected');
      const before = devices.map(disconnects);
      await stack.broker.kill();
      // Back once every uplink noticed it was gone, so each really reconnects and re-sends.
      await eventually(() => devices.every((d, i) => disconnects(d) > before[i]!), 20_000, 'every device to notice the broker gone');
      await stack.broker.start();
      const recorded = devices.map(recordedCount);
      await eventually(() => devices.every((d, i) => recordedCount(d) >= recorded[i]! + 20), 20_000, 'readings after the restart');
    }
    const report = await checkSystem(db, devices);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, corrupted: 0 });
  }, 120_000);

  it('the receiver SIGKILLed mid-batch: the device re-sends and nothing is lost or stored twice', async () => {
    const { stack, devices, db } = await system({ devices: ['e2e-4'], interval: 0.01 });
    for (let round = 0; round < 3; round++) {
      const receiver = stack.receivers.at(-1)!;
      // Kill it right after it committed something, so batches are in every stage of flight.
      await receiver.waitForLog((r) => r.event === 'batch_committed', 20_000, 'a committed batch');
      // Restarted at once, as its supervisor would; the device re-sends what it dropped after its ack timeout.
      await receiver.kill();
      await stack.startReceiver({ clientId: 'receiver-1', env: { LOG_LEVEL: 'debug' } });
    }
    // Enough readings for the check to mean something, however fast the rounds went.
    await eventually(() => recordedCount(devices[0]!) > 100, 20_000, 'over 100 recorded readings');
    const report = await checkSystem(db, devices);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, corrupted: 0 });
    expect(report.recorded).toBeGreaterThan(100);
  }, 120_000);

  it('the broker restarts while the receiver is down: what it queued is gone, and devices re-send it', async () => {
    // The broker's queue for the receiver's persistent session lives in memory; only the end-to-end
    // acknowledgement (not the broker's PUBACK) saves these readings.
    const { stack, devices, db } = await system({ devices: ['e2e-10'], interval: 0.02 });
    await eventually(() => recordedCount(devices[0]!) >= 30, 20_000, 'readings flowing');
    await stack.receivers[0]!.kill();
    const before = recordedCount(devices[0]!);
    await eventually(() => recordedCount(devices[0]!) >= before + 50, 20_000, 'readings while the receiver is down');
    await stack.broker.kill();
    await stack.broker.start();
    await stack.startReceiver({ clientId: 'receiver-1', env: { LOG_LEVEL: 'debug' } });
    const report = await checkSystem(db, devices);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, corrupted: 0 });
  }, 120_000);

  it('two receivers share one subscription on Mosquitto, and each reading is stored once', async () => {
    const { stack, devices, db } = await system({ devices: ['e2e-5', 'e2e-6', 'e2e-7'], broker: 'mosquitto', receivers: 2, group: 'ingest', interval: 0.02 });
    await eventually(() => devices.every((d) => recordedCount(d) >= 100), 30_000, 'readings flowing');
    const report = await checkSystem(db, devices);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, corrupted: 0 });
    const committed = stack.receivers.map((r) => r.logs().filter((l) => l.event === 'batch_committed').length);
    // Both members of the group did part of the work.
    for (const count of committed) expect(count).toBeGreaterThan(0);
  }, 120_000);

  describe('control', () => {
    async function control(stack: BackendStack) {
      const client = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('operator'), protocolVersion: 4 });
      cleanup.push(() => client.endAsync());
      return new DeviceControl({ db: await stack.database(), mqtt: client, topics: new TopicScheme(), clock: systemClock, logger: silentLogger() });
    }

    it('set_config of an unknown key, or of the uplink cursor, is refused by the device', async () => {
      const { stack, devices } = await system({ devices: ['e2e-8'], interval: 1 });
      const db = await stack.database();
      await eventually(async () => (await db.devices.getDevice('e2e-8')) !== undefined, 20_000, 'the device to be seen');
      const ops = await control(stack);
      // Sent raw, past the backend's own validation, to prove the device refuses it too.
      const client = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('operator'), protocolVersion: 4 });
      cleanup.push(() => client.endAsync());
      await client.subscribeAsync('iot-projekt/device/e2e-8/response', { qos: 1 });
      const answers: Record<string, unknown>[] = [];
      client.on('message', (_t, payload) => answers.push(JSON.parse(payload.toString())));
      await client.publishAsync('iot-projekt/device/e2e-8/request', JSON.stringify({ v: 1, id: 'raw-1', command: 'set_config', key: 'foo', value: '1' }), { qos: 1 });
      await client.publishAsync('iot-projekt/device/e2e-8/request', JSON.stringify({ v: 1, id: 'raw-2', command: 'SET_CONFIG', key: 'mqtt_sender:last_id', value: '(0-0' }), { qos: 1 });
      const unknown = await eventually(() => answers.find((a) => a.id === 'raw-1'), 10_000, 'the answer');
      const readOnly = await eventually(() => answers.find((a) => a.id === 'raw-2'), 10_000, 'the answer');
      expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_key' } });
      expect(readOnly).toMatchObject({ ok: false, error: { code: 'read_only_key' } });
      // The backend refuses it before sending, too; a valid one is answered and recorded.
      await expect(ops.sendCommand('e2e-8', { command: 'set_config', key: 'foo', value: '1' })).rejects.toMatchObject({ code: 'unknown_key' });
      const id = await ops.sendCommand('e2e-8', { command: 'set_config', key: 'measurement:interval', value: '0.5' });
      expect(await ops.waitForAnswer(id, 10_000)).toMatchObject({ state: 'answered', ok: true });
      const redis = new Redis({ host: devices[0]!.redis.host, port: devices[0]!.redis.port });
      cleanup.push(async () => redis.disconnect());
      expect(await redis.get('measurement:interval')).toBe('0.5');
    }, 90_000);

    it('a device offline while its desired configuration changes converges when it returns', async () => {
      const { stack, devices } = await system({ devices: ['e2e-9'], interval: 1 });
      const device = devices[0]!;
      const db = await stack.database();
      await eventually(async () => (await db.devices.getDevice('e2e-9')) !== undefined, 20_000, 'the device to be seen');
      await device.uplink!.kill();
      const ops = await control(stack);
      await ops.setDesiredConfig('e2e-9', { 'measurement:interval': '3' });
      const version = await ops.setDesiredConfig('e2e-9', { 'measurement:interval': '4', 'mqtt_sender:interval': '2' });
      // The broker restarts too and forgets its retained messages (aedes keeps them in memory):
      // convergence must not depend on them.
      await stack.broker.kill();
      await stack.broker.start();
      device.startUplink();
      await eventually(async () => (await db.configs.getReported('e2e-9'))?.version === version, 30_000, 'the reported version to catch up');
      expect((await db.configs.getReported('e2e-9'))?.config).toMatchObject({ 'measurement:interval': '4', 'mqtt_sender:interval': '2' });
      const redis = new Redis({ host: device.redis.host, port: device.redis.port });
      cleanup.push(async () => redis.disconnect());
      expect(await redis.mget('measurement:interval', 'mqtt_sender:interval')).toEqual(['4', '2']);
    }, 90_000);
  });
});
