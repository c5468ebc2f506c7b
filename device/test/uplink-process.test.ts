import { readFileSync } from 'node:fs';
import { REDIS_KEY } from '../src/redis-keys.ts';
import { RedisServer, type ServiceProcess, startServiceProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addReadings, type ReceivedEntry, readRetained, TestBackend, TestBroker } from './uplink-fixtures.ts';

/**
 * The uplink as it runs on a device: its own OS process (mqtthandler, and inside the all-in-one
 * process), configured by env vars, against a real redis-server and an aedes broker.
 */
describe('uplink process', () => {
  const redisServer = new RedisServer();
  const broker = new TestBroker();
  let admin: Redis;
  let backend: TestBackend | undefined;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    await redisServer.start();
    await broker.start();
    admin = new Redis({ host: redisServer.host, port: redisServer.port });
  });
  afterAll(async () => {
    admin.disconnect();
    await broker.stop();
    await redisServer.dispose();
  });
  beforeEach(async () => {
    await admin.flushall();
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill()));
    await backend?.close();
    backend = undefined;
  });

  const baseEnv = () => ({
    HARDWARE: 'sim',
    REDIS_HOST: redisServer.host,
    REDIS_PORT: String(redisServer.port),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(broker.port),
    LOG_LEVEL: 'info',
  });
  const startUplinkProcess = (env: Record<string, string>) => {
    const uplink = startServiceProcess('mqtthandler', { ...baseEnv(), ...env });
    processes.push(uplink);
    return uplink;
  };
  const statusTopic = (device: string) => `iot-projekt/device/${device}/status`;

  it('leaves a retained offline status through its Last Will when SIGKILLed', async () => {
    const uplink = startUplinkProcess({ BALENA_DEVICE_UUID: 'dev-will' });
    await uplink.waitForLog((r) => r.event === 'status_published', 15_000, 'the online status');
    expect(await readRetained(broker.url, statusTopic('dev-will'))).toMatchObject({ v: 1, online: true });
    const killedAt = Date.now();
    await uplink.kill();
    const will = await eventually(
      async () => {
        const status = (await readRetained(broker.url, statusTopic('dev-will'), 200)) as { online?: boolean; at?: number } | undefined;
        return status?.online === false ? status : undefined;
      },
      10_000,
      'the Last Will',
    );
    expect(will).toEqual({ v: 1, online: false, at: expect.any(Number) });
    // The Will is built at connect time.
    expect(will.at).toBeLessThanOrEqual(killedAt);
  });

  it('publishes a retained offline status itself on a clean stop', async () => {
    const uplink = startUplinkProcess({ BALENA_DEVICE_UUID: 'dev-stop' });
    await uplink.waitForLog((r) => r.event === 'status_published', 15_000, 'the online status');
    const stoppedAt = Date.now();
    expect((await uplink.stop('SIGTERM')).code).toBe(0);
    const status = (await readRetained(broker.url, statusTopic('dev-stop'))) as { online: boolean; at: number };
    expect(status).toEqual({ v: 1, online: false, at: expect.any(Number) });
    expect(status.at).toBeGreaterThanOrEqual(stoppedAt);
    expect(uplink.logs().some((r) => r.event === 'uplink_stopped')).toBe(true);
  });

  it('drains a backlog of hundreds of thousands of readings in bounded memory', async () => {
    const peakKb = (pid: number) => Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    const confirmed = (id: string) => eventually(async () => (await admin.get(REDIS_KEY.senderLastId)) === `(${id}`, 50_000, `the cursor at ${id}`);
    backend = await new TestBackend({ keep: false }).connect(broker.url);
    // Warm-up: 100 000 readings bring the runtime's heap to its working size.
    const warmUp = await addReadings(admin, 1, 100_000);
    // A small device's heap: a hard 128 MB cap on V8's old generation (reading the backlog whole
    // would exceed it and crash the process) and small young-generation semi-spaces, which V8
    // sizes from physical memory (16 MB each on this CI machine, 1-2 MB on a 1 GB Pi).
    const uplink = startUplinkProcess({ BALENA_DEVICE_UUID: 'dev-backlog', NODE_OPTIONS: '--max-old-space-size=128 --max-semi-space-size=4' });
    await confirmed(warmUp[warmUp.length - 1]!);
    const peakAfterWarmUp = peakKb(uplink.pid!);

    // Then a backlog twice as large, queued while sending is paused, drained at full speed.
    await admin.set(REDIS_KEY.senderEnabled, '0');
    await uplink.waitForLog((r) => r.event === 'uplink_paused', 5000, 'the pause');
    const backlog = await addReadings(admin, 100_001, 200_000);
    const startedAt = Date.now();
    await admin.set(REDIS_KEY.senderEnabled, '1');
    await confirmed(backlog[backlog.length - 1]!);
    const seconds = (Date.now() - startedAt) / 1000;
    const peak = peakKb(uplink.pid!);
    process.stdout.write(
      `uplink drained ${backlog.length} readings in ${seconds.toFixed(1)} s (${Math.round(backlog.length / seconds)} readings/s); ` +
        `peak RSS ${Math.round(peakAfterWarmUp / 1024)} MB after 100 000, ${Math.round(peak / 1024)} MB after 300 000\n`,
    );
    expect(backend.seqs.size).toBe(300_000);
    expect(uplink.running).toBe(true);
    // Bounded: the backlog twice as large costs no more memory than the first one.
    expect(peak - peakAfterWarmUp).toBeLessThan(30 * 1024);
    expect(peak).toBeLessThan(250 * 1024);
    // Trimmed behind the cursor down to the default history.
    await eventually(async () => (await admin.xlen('measurement:values')) === 10_000, 10_000, 'the trim to UPLINK_HISTORY');
  }, 90_000);

  it('runs inside the all-in-one process, and a reboot command restarts the services with a new boot', async () => {
    backend = await new TestBackend().connect(broker.url);
    const device = startServiceProcess('device-all-in-one', {
      ...baseEnv(),
      BALENA_DEVICE_UUID: 'dev-aio',
      SENSORS: 'bme280@0x76',
      INTERVAL_SECONDS: '0.1',
    });
    processes.push(device);
    const readings = () => [...backend!.readings.values()].filter((e) => e.event === undefined);
    await eventually(() => readings().length >= 10, 20_000, 'readings from the all-in-one device');
    const firstBoot = readings()[0]!.boot;

    await backend.publish('request', 'dev-aio', { v: 1, id: 'reboot-1', command: 'reboot' });
    await eventually(() => backend!.responses.find((r) => r?.id === 'reboot-1'), 10_000, 'the answer to reboot');
    await device.waitForLog((r) => r.event === 'device_restarting', 10_000, 'the simulated reboot');
    await eventually(() => readings().some((e) => e.boot !== firstBoot), 20_000, 'readings of the new boot');

    // The first boot ended cleanly: its marker names its last sequence number, and none is missing.
    const marker = await eventually(() => [...backend!.readings.values()].find((e: ReceivedEntry) => e.event === 'shutdown'), 10_000, 'the shutdown marker');
    expect(marker.boot).toBe(firstBoot);
    const firstSeqs = readings()
      .filter((e) => e.boot === firstBoot)
      .map((e) => e.seq as number)
      .sort((a, b) => a - b);
    expect(firstSeqs).toEqual(Array.from({ length: marker.seq as number }, (_, i) => i + 1));
    expect((await device.stop('SIGTERM')).code).toBe(0);
  }, 60_000);
});
