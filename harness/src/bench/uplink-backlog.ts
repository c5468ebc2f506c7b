import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Ack, PROTOCOL_VERSION, readingFields, STREAM_KEY } from '@iot/common/protocol';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { MosquittoServer } from '../processes/mosquitto-server.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { startServiceProcess } from '../processes/service-process.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * Whether the uplink's memory stays flat as its backlog grows, and how fast it drains one: the
 * speed and memory bounds the uplink tests used to assert, measured instead.
 *
 *   npm run bench:uplink-backlog -- [--readings 100000] [--runs 3]
 *
 * Each run starts a fresh uplink process (mqtthandler, with the heap limits of the balena app) per
 * set-up against a local redis-server (device redis.conf, maxmemory raised) and Mosquitto, with a
 * stub receiver that acks every batch at once, so the uplink itself is measured:
 * - baseline: a backlog of `--readings` readings;
 * - three times that backlog: peak RSS should not grow with it (ratio about 1);
 * - the baseline backlog with mqtt_sender:interval 30: full batches do not wait for the interval,
 *   so the rate should match the baseline (ratio about 1).
 * Reported: the median over the runs of drain seconds, readings/s and the uplink's peak RSS
 * (VmHWM from /proc), and each as a ratio to the baseline measured in the same runs.
 */
const readings = numericFlag('readings', 100_000);
const runs = numericFlag('runs', 3);
/** As balena/docker-compose.yml runs the uplink. */
const NODE_OPTIONS = '--max-old-space-size=128 --max-semi-space-size=4';
const DEVICE = 'backlog-1';
/** UPLINK_BATCH_MAX_COUNT (its default); these readings are small enough that the count, not the bytes, cuts batches. */
const BATCH = 500;

interface Drain {
  seconds: number;
  rate: number;
  peakMiB: number;
}

const redisServer = await new RedisServer({ overrides: { maxmemory: '2gb' } }).start();
// Stop-and-wait sends one batch per round trip: without TCP_NODELAY on every hop, Nagle and delayed
// ACKs would add ~40 ms to each and the bench would measure them instead of the uplink.
const broker = await new MosquittoServer({ conf: ['allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', ''].join('\n') }).start();
const admin = new Redis({ host: redisServer.host, port: redisServer.port });
const acker = await startAcker();

/** Acknowledges every batch at once, as a receiver that stores nothing would. */
async function startAcker(): Promise<MqttClient> {
  const client = await mqtt.connectAsync(broker.url, { clientId: 'bench-acker', protocolVersion: 4 });
  (client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined)?.setNoDelay?.(true);
  await client.subscribeAsync('iot-projekt/device/+/readings', { qos: 1 });
  client.on('message', (topic, payload) => {
    const batch = JSON.parse(payload.toString()) as { batch: string; entries: { id: string }[] };
    const ack: Ack = { v: PROTOCOL_VERSION, batch: batch.batch, up_to: batch.entries.at(-1)!.id, stored: batch.entries.length, duplicates: 0, rejected: 0 };
    client.publish(topic.replace(/readings$/, 'ack'), JSON.stringify(ack), { qos: 1 });
  });
  return client;
}

/** A fresh stream of `count` readings and no cursor; returns the stream id of reading `target` (1-based). */
async function fill(count: number, target: number): Promise<string> {
  await admin.del(STREAM_KEY, 'mqtt_sender:last_id', 'mqtt_sender:interval');
  const boot = Math.random().toString(16).slice(2, 10).padEnd(16, '0');
  const values = { temperature_celsius: 21.53, humidity_percent: 45.12, pressure_hpa: 1013.2 };
  let targetId = '';
  for (let seq = 1; seq <= count; ) {
    const first = seq;
    const pipeline = admin.pipeline();
    for (let i = 0; i < 1000 && seq <= count; i++, seq++) pipeline.xadd(STREAM_KEY, '*', ...readingFields({ bootId: boot, seq }, Date.now(), values));
    const replies = (await pipeline.exec()) ?? [];
    if (target >= first && target < seq) targetId = String(replies[target - first]?.[1]);
  }
  return targetId;
}

/**
 * Drains `count` queued readings with a fresh uplink. With `fullOnly`, the time until the last full
 * batch is confirmed: the tail after it is not a full batch and rightly waits for the interval.
 */
async function drain(count: number, settings: Record<string, string> = {}, fullOnly = false): Promise<Drain> {
  const drained = fullOnly ? (Math.ceil(count / BATCH) - 1) * BATCH : count;
  const lastId = await fill(count, drained);
  for (const [key, value] of Object.entries(settings)) await admin.set(key, value);
  const uplink = startServiceProcess('mqtthandler', {
    HARDWARE: 'sim',
    REDIS_HOST: redisServer.host,
    REDIS_PORT: String(redisServer.port),
    BALENA_DEVICE_UUID: DEVICE,
    UPLINK_BATCH_MAX_COUNT: String(BATCH),
    MQTT_HOST: broker.host,
    MQTT_PORT: String(broker.port),
    LOG_LEVEL: 'info',
    NODE_OPTIONS,
  });
  try {
    await uplink.waitForLog((r) => r.event === 'uplink_connected', 30_000, 'the uplink connected');
    const started = performance.now();
    // A benchmark may poll on a timer: it measures, it asserts nothing.
    while ((await admin.get('mqtt_sender:last_id')) !== `(${lastId}`) {
      if (!uplink.running) throw new Error(`the uplink exited:\n${uplink.tail()}`);
      await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    // VmHWM is the process's peak resident set so far.
    const peakKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${uplink.pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
    return { seconds, rate: drained / seconds, peakMiB: peakKiB / 1024 };
  } finally {
    await uplink.stop('SIGTERM');
  }
}

const setups: { name: string; count: number; settings: Record<string, string>; fullOnly: boolean }[] = [
  { name: `baseline: ${readings} queued`, count: readings, settings: {}, fullOnly: false },
  { name: `3 × the backlog: ${3 * readings} queued`, count: 3 * readings, settings: {}, fullOnly: false },
  { name: `${readings} queued, mqtt_sender:interval 30 (full batches)`, count: readings, settings: { 'mqtt_sender:interval': '30' }, fullOnly: true },
];
const results = setups.map(() => [] as Drain[]);
try {
  for (let run = 1; run <= runs; run++) {
    for (const [i, setup] of setups.entries()) {
      const result = await drain(setup.count, setup.settings, setup.fullOnly);
      results[i]!.push(result);
      progress(`run ${run}/${runs}, ${setup.name}: ${result.seconds.toFixed(1)} s, ${result.rate.toFixed(0)} readings/s, peak RSS ${result.peakMiB.toFixed(0)} MiB`);
    }
  }
} finally {
  await acker.endAsync(true);
  admin.disconnect();
  await broker.dispose();
  await redisServer.dispose();
}

const medianOf = (i: number, pick: (d: Drain) => number) => median(results[i]!.map(pick));
const baseRate = medianOf(0, (d) => d.rate);
const basePeak = medianOf(0, (d) => d.peakMiB);
process.stdout.write(
  [
    '',
    `Uplink backlog drain, ${runs} runs, medians (node ${process.version}, uplink NODE_OPTIONS="${NODE_OPTIONS}", stub receiver acking at once)`,
    '| set-up | seconds | readings/s | rate ratio to baseline | peak RSS (MiB) | RSS ratio to baseline | runs (s / MiB) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...setups.map((setup, i) => {
      const rate = medianOf(i, (d) => d.rate);
      const peak = medianOf(i, (d) => d.peakMiB);
      const each = results[i]!.map((d) => `${d.seconds.toFixed(1)} / ${d.peakMiB.toFixed(0)}`).join(', ');
      return `| ${setup.name} | ${medianOf(i, (d) => d.seconds).toFixed(1)} | ${rate.toFixed(0)} | ${(rate / baseRate).toFixed(3)} | ${peak.toFixed(0)} | ${(peak / basePeak).toFixed(3)} | ${each} |`;
    }),
    '',
  ].join('\n'),
);
