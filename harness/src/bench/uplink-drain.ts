import { readFileSync } from 'node:fs';
import { type Ack, PROTOCOL_VERSION, readingFields, REDIS_KEY, STREAM_KEY } from '@iot/common/protocol';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { BackendStack } from '../harness/backend-stack.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { startServiceProcess } from '../processes/service-process.ts';
import { numericFlag, progress } from './stats.ts';

/**
 * How fast one device's uplink drains a large backlog, and its peak RSS meanwhile.
 *
 *   npm run bench:uplink-drain -- [--readings 1000000] [--node-options '--max-old-space-size=128 --max-semi-space-size=4']
 *
 * The device's Redis (device redis.conf, but maxmemory raised to 2 GB: a million readings do not
 * fit the device default of 100 MB) is filled with readings, then the uplink process starts and
 * drains them, in two set-ups measured in the same run:
 * - baseline: a stub that acknowledges every batch at once (no database) — the uplink and broker alone;
 * - full path: aedes, the receiver and MariaDB; the database count is checked afterwards.
 * Peak RSS is the uplink process's VmHWM from /proc.
 */
const total = numericFlag('readings', 1_000_000);
/** The heap limits the balena app gives the uplink (balena/docker-compose.yml); `--node-options ''` for V8's defaults. */
const nodeOptionsAt = process.argv.indexOf('--node-options');
const nodeOptions = nodeOptionsAt < 0 ? '--max-old-space-size=128 --max-semi-space-size=4' : (process.argv[nodeOptionsAt + 1] ?? '');
const DEVICE = 'drain-1';

const stack = await new BackendStack({ deviceIds: [DEVICE], broker: 'aedes', database: 'mariadb' }).start();

async function fill(redis: Redis): Promise<void> {
  await redis.del(STREAM_KEY, REDIS_KEY.senderLastId);
  const boot = Math.random().toString(16).slice(2, 10).padEnd(16, '0');
  const values = { temperature_celsius: 21.53, humidity_percent: 45.12, pressure_hpa: 1013.2 };
  for (let seq = 1; seq <= total; ) {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000 && seq <= total; i++, seq++) pipeline.xadd(STREAM_KEY, '*', ...readingFields({ bootId: boot, seq }, Date.now(), values));
    await pipeline.exec();
    if (seq % 100_000 < 1000) progress(`  filled ${seq - 1} / ${total}`);
  }
}

async function drain(label: string, device: RedisServer): Promise<{ seconds: number; rate: number; peakMiB: number }> {
  const redis = new Redis({ host: device.host, port: device.port });
  progress(`${label}: filling the stream with ${total} readings...`);
  await fill(redis);
  const [[lastId]] = (await redis.xrevrange(STREAM_KEY, '+', '-', 'COUNT', 1)) as [[string, string[]]];
  const uplink = startServiceProcess('mqtthandler', {
    REDIS_HOST: device.host,
    REDIS_PORT: String(device.port),
    HARDWARE: 'sim',
    BALENA_DEVICE_UUID: DEVICE,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(stack.brokerPort),
    MQTT_USERNAME: stack.login(DEVICE).username,
    MQTT_PASSWORD: stack.login(DEVICE).password,
    LOG_LEVEL: 'warn',
    NODE_OPTIONS: nodeOptions,
  });
  const started = Date.now();
  let peakKiB = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const status = readFileSync(`/proc/${uplink.pid}/status`, 'utf8');
    peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const cursor = await redis.get(REDIS_KEY.senderLastId);
    progress(`  ${label}: ${((Date.now() - started) / 1000).toFixed(0)} s, cursor ${cursor}, stream length ${await redis.xlen(STREAM_KEY)}, uplink peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);
    if (cursor === `(${lastId}`) break;
    if (!uplink.running) throw new Error(`uplink exited:\n${uplink.tail()}`);
  }
  const seconds = (Date.now() - started) / 1000;
  await uplink.stop();
  redis.disconnect();
  return { seconds, rate: total / seconds, peakMiB: peakKiB / 1024 };
}

/** Acknowledges every batch at once, as a receiver that stores nothing would. */
async function startStubReceiver() {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('receiver'), protocolVersion: 4, clientId: 'stub-receiver' });
  await client.subscribeAsync(`iot-projekt/device/+/readings`, { qos: 1 });
  client.on('message', (topic, payload) => {
    const batch = JSON.parse(payload.toString()) as { batch: string; entries: { id: string }[] };
    const ack: Ack = { v: PROTOCOL_VERSION, batch: batch.batch, up_to: batch.entries.at(-1)!.id, stored: batch.entries.length, duplicates: 0, rejected: 0 };
    client.publish(topic.replace(/readings$/, 'ack'), JSON.stringify(ack), { qos: 1 });
  });
  return client;
}

const device = await new RedisServer({ overrides: { maxmemory: '2gb' } }).start();
const stub = await startStubReceiver();
const baseline = await drain('baseline (stub receiver, no database)', device);
await stub.endAsync();

await stack.startReceiver();
const db = await stack.database();
const before = await db.readings.countReadings(DEVICE);
const full = await drain('full path (aedes, receiver, MariaDB)', device);
const stored = (await db.readings.countReadings(DEVICE)) - before;
if (stored !== total) throw new Error(`the database gained ${stored} readings, expected ${total}`);

process.stdout.write(
  [
    '',
    `Uplink drain of ${total} queued readings, one device (node ${process.version}, uplink NODE_OPTIONS="${nodeOptions}")`,
    '| set-up | seconds | readings/s | ratio to baseline | uplink peak RSS (MiB) |',
    '| --- | --- | --- | --- | --- |',
    `| baseline: stub receiver acks at once | ${baseline.seconds.toFixed(1)} | ${baseline.rate.toFixed(0)} | 1.000 | ${baseline.peakMiB.toFixed(0)} |`,
    `| aedes → receiver → MariaDB (all ${stored} stored) | ${full.seconds.toFixed(1)} | ${full.rate.toFixed(0)} | ${(full.rate / baseline.rate).toFixed(3)} | ${full.peakMiB.toFixed(0)} |`,
    '',
  ].join('\n'),
);
await device.dispose();
await stack.dispose();
