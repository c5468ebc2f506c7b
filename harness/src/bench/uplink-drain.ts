import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Ack, PROTOCOL_VERSION, readingFields, REDIS_KEY, STREAM_KEY } from '@iot/common/protocol';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { BackendStack } from '../harness/backend-stack.ts';
import { OriginalSoftware, repositoryRoot } from '../original/original-software.ts';
import { ManagedProcess } from '../processes/managed-process.ts';
import { MosquittoServer } from '../processes/mosquitto-server.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { startServiceProcess } from '../processes/service-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * Benchmark P1 of docs/benchmarks.md: how fast one device's uplink drains a large backlog
 * confirmed into MariaDB, and its peak RSS meanwhile, against the original's uplink on the same
 * backlog in the same run.
 *
 *   npm run bench:uplink-drain -- [--readings 1000000] [--runs 3] [--window N] [--node-options '...']
 *
 * Each run fills the device's Redis (device redis.conf, maxmemory raised to 2 GB: a million
 * readings do not fit the device default of 100 MB) with the same backlog, then drains it with:
 * - the original: the original mqtthandler (Python, paho), unchanged, against a plain Mosquitto.
 *   It reads the whole backlog and publishes it as one message; its cursor passes the end on the
 *   publish call, without any confirmation (docs/original-system.md §14). Timed until it does.
 * - ours, stub: our uplink through the same plain Mosquitto to a stub that acks every batch at
 *   once (no database): the uplink and a broker alone.
 * - ours, confirmed: our uplink through aedes, the receiver and MariaDB, timed until the durable
 *   cursor confirms the last reading; the database count is checked afterwards.
 * Peak RSS is each uplink process's VmHWM from /proc. Figures are medians over the runs; ratios
 * are against the original measured in the same runs. JSON: reports/bench/uplink-drain.json.
 */
const total = numericFlag('readings', 1_000_000);
const runs = numericFlag('runs', 3);
const windowAt = process.argv.indexOf('--window');
const window = windowAt < 0 ? undefined : numericFlag('window', 4);
/** The heap limits the balena app gives the uplink (balena/docker-compose.yml); `--node-options ''` for V8's defaults. */
const nodeOptionsAt = process.argv.indexOf('--node-options');
const nodeOptions = nodeOptionsAt < 0 ? '--max-old-space-size=128 --max-semi-space-size=4' : (process.argv[nodeOptionsAt + 1] ?? '');
const DEVICE = 'drain-1';

interface Drain {
  seconds: number;
  rate: number;
  peakMiB: number;
}

const original = OriginalSoftware.locate();
if (!original.available) progress(`the original cannot run here (${original.reason}); measuring ours only`);

const stack = await new BackendStack({ deviceIds: [DEVICE], broker: 'aedes', database: 'mariadb' }).start();
const device = await new RedisServer({ overrides: { maxmemory: '2gb' } }).start();
const admin = new Redis({ host: device.host, port: device.port });
const plainBroker = await new MosquittoServer().start();
await stack.startReceiver();
const db = await stack.database();

/** Fills the stream with `total` readings of one boot and returns the last id. */
async function fill(): Promise<string> {
  await admin.del(STREAM_KEY, REDIS_KEY.senderLastId);
  const boot = Math.random().toString(16).slice(2, 10).padEnd(16, '0');
  const values = { temperature_celsius: 21.53, humidity_percent: 45.12, pressure_hpa: 1013.2 };
  for (let seq = 1; seq <= total; ) {
    const pipeline = admin.pipeline();
    for (let i = 0; i < 1000 && seq <= total; i++, seq++) pipeline.xadd(STREAM_KEY, '*', ...readingFields({ bootId: boot, seq }, Date.now(), values));
    await pipeline.exec();
    if (seq % 200_000 < 1000) progress(`  filled ${seq - 1} / ${total}`);
  }
  const [[lastId]] = (await admin.xrevrange(STREAM_KEY, '+', '-', 'COUNT', 1)) as [[string, string[]]];
  return lastId;
}

/** Polls the cursor until it reaches `done`, sampling the process's peak RSS. */
async function timeUntil(label: string, pid: number | undefined, running: () => boolean, tail: () => string, done: (cursor: string | null) => boolean): Promise<Drain> {
  const started = Date.now();
  let peakKiB = 0;
  for (let polls = 0; ; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (pid !== undefined) {
      try {
        peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? peakKiB);
      } catch {
        // The process is gone; `running` says so below.
      }
    }
    const cursor = await admin.get(REDIS_KEY.senderLastId);
    if (polls % 25 === 0) progress(`  ${label}: ${((Date.now() - started) / 1000).toFixed(0)} s, cursor ${cursor}, peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);
    if (done(cursor)) break;
    if (!running()) throw new Error(`${label} exited:\n${tail()}`);
  }
  const seconds = (Date.now() - started) / 1000;
  return { seconds, rate: total / seconds, peakMiB: peakKiB / 1024 };
}

/** The original's cursor is an XRANGE start, "(<id>"; it passes the end when it names the last id or beyond. */
function passed(cursor: string | null, lastId: string): boolean {
  if (cursor === null) return false;
  const id = cursor.replace(/^\(/, '');
  const [ms, seq] = id.split('-').map(BigInt) as [bigint, bigint | undefined];
  const [lastMs, lastSeq] = lastId.split('-').map(BigInt) as [bigint, bigint];
  return ms > lastMs || (ms === lastMs && (seq ?? 0n) >= lastSeq);
}

async function drainOriginal(software: OriginalSoftware, broker: MosquittoServer): Promise<Drain> {
  const lastId = await fill();
  const dir = makeTempDir('original-uplink');
  const handler = new ManagedProcess({
    name: 'original-mqtthandler',
    command: software.python,
    args: [software.mqtthandlerApp, software.mqtthandlerConf],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PYTHONUNBUFFERED: '1',
      REDIS_HOST: device.host,
      REDIS_PORT: String(device.port),
      REDIS_DB: '0',
      INTERVAL_SECONDS: '1',
      MQTT_HOST: broker.host,
      MQTT_PORT: String(broker.port),
      MQTT_USERNAME: 'original',
      MQTT_PASSWORD: 'original',
      BALENA_DEVICE_UUID: DEVICE,
    },
    logFile: join(dir.path, 'mqtthandler.log'),
  });
  try {
    return await timeUntil('original', handler.pid, () => handler.running, () => handler.tail(), (cursor) => passed(cursor, lastId));
  } finally {
    await handler.kill();
    dir.remove();
  }
}

async function drainOurs(label: string, brokerPort: number, login = stack.login(DEVICE)): Promise<Drain> {
  const lastId = await fill();
  const uplink = startServiceProcess('mqtthandler', {
    REDIS_HOST: device.host,
    REDIS_PORT: String(device.port),
    HARDWARE: 'sim',
    BALENA_DEVICE_UUID: DEVICE,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(brokerPort),
    MQTT_USERNAME: login.username,
    MQTT_PASSWORD: login.password,
    LOG_LEVEL: 'warn',
    NODE_OPTIONS: nodeOptions,
    ...(window === undefined ? {} : { UPLINK_WINDOW: String(window) }),
  });
  try {
    return await timeUntil(label, uplink.pid, () => uplink.running, () => uplink.tail(), (cursor) => cursor === `(${lastId}`);
  } finally {
    await uplink.stop();
  }
}

/** Acknowledges every batch at once, as a receiver that stores nothing would. */
async function startStubReceiver() {
  const client = await mqtt.connectAsync({ host: plainBroker.host, port: plainBroker.port, protocolVersion: 4, clientId: 'stub-receiver' });
  await client.subscribeAsync(`iot-projekt/device/+/readings`, { qos: 1 });
  client.on('message', (topic, payload) => {
    const batch = JSON.parse(payload.toString()) as { batch: string; entries: { id: string }[] };
    const ack: Ack = { v: PROTOCOL_VERSION, batch: batch.batch, up_to: batch.entries.at(-1)!.id, stored: batch.entries.length, duplicates: 0, rejected: 0 };
    client.publish(topic.replace(/readings$/, 'ack'), JSON.stringify(ack), { qos: 1 });
  });
  return client;
}

const results: Record<'original' | 'stub' | 'confirmed', Drain[]> = { original: [], stub: [], confirmed: [] };
for (let run = 1; run <= runs; run++) {
  progress(`run ${run} / ${runs}`);
  if (original.available) results.original.push(await drainOriginal(original.software, plainBroker));
  const stub = await startStubReceiver();
  results.stub.push(await drainOurs('ours, stub receiver', plainBroker.port, { username: 'stub', password: 'stub' }));
  await stub.endAsync();
  const before = await db.readings.countReadings(DEVICE);
  results.confirmed.push(await drainOurs('ours, confirmed into MariaDB', stack.brokerPort));
  const stored = (await db.readings.countReadings(DEVICE)) - before;
  if (stored !== total) throw new Error(`the database gained ${stored} readings in run ${run}, expected ${total}`);
}

const summary = Object.fromEntries(
  Object.entries(results)
    .filter(([, drains]) => drains.length > 0)
    .map(([name, drains]) => [name, { seconds: median(drains.map((d) => d.seconds)), rate: median(drains.map((d) => d.rate)), peakMiB: median(drains.map((d) => d.peakMiB)), runs: drains }]),
) as Record<string, { seconds: number; rate: number; peakMiB: number; runs: Drain[] }>;
const base = summary.original?.rate;
const ratio = (rate: number) => (base === undefined ? 'n/a' : (rate / base).toFixed(2));
const row = (label: string, name: string) => {
  const s = summary[name];
  return s === undefined ? undefined : `| ${label} | ${s.seconds.toFixed(1)} | ${s.rate.toFixed(0)} | ${ratio(s.rate)} | ${s.peakMiB.toFixed(0)} |`;
};
process.stdout.write(
  [
    '',
    `P1: one device drains ${total} queued readings; medians of ${runs} runs (node ${process.version}, uplink NODE_OPTIONS="${nodeOptions}", UPLINK_WINDOW ${window ?? 'default'})`,
    '| set-up | seconds | readings/s | ratio to the original | peak RSS (MiB) |',
    '| --- | --- | --- | --- | --- |',
    row('original mqtthandler → Mosquitto, cursor passes the end unconfirmed', 'original'),
    row('ours → Mosquitto → stub acks at once (no database)', 'stub'),
    row('ours → aedes → receiver → MariaDB, every reading confirmed', 'confirmed'),
    '',
  ]
    .filter((line) => line !== undefined)
    .join('\n'),
);
const reports = join(repositoryRoot(), 'reports', 'bench');
mkdirSync(reports, { recursive: true });
writeFileSync(join(reports, 'uplink-drain.json'), `${JSON.stringify({ benchmark: 'P1', readings: total, runs, window: window ?? 'default', nodeOptions, summary }, null, 2)}\n`);
progress(`wrote ${join(reports, 'uplink-drain.json')}`);
admin.disconnect();
await device.dispose();
await plainBroker.dispose();
await stack.dispose();
