import { readFileSync } from 'node:fs';
import { MAX_ORIGINAL_PAYLOAD_BYTES, type OriginalReading } from '@iot/common/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { BackendStack } from '../harness/backend-stack.ts';
import { BrokerProcess } from '../processes/broker-process.ts';
import type { ServiceProcess } from '../processes/service-process.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * The largest backlog an original device can drain: after an outage the original publishes its
 * whole backlog as one QoS 1 message on `values` (docs/original-system.md §14), which this
 * backend admits up to 16 MiB (docs/protocol.md §9). Real processes: aedes, a receiver, SQLite.
 *
 *   npm run bench:original-backlog -- [--runs 3]
 *
 * Per size (256 KiB … 16 MiB of readings as the original stamps them, and one over the limit):
 * readings, bytes, whether all were stored, the time from publishing to the last one stored, and
 * the receiver's peak RSS while it stored them. Each run starts a fresh receiver process (the
 * same client id, so no session is left behind) whose VmHWM (/proc/<pid>/status, the kernel's
 * high-water mark) is then that one message's peak; the idle receiver's RSS is the baseline.
 * Each run uses its own device, so nothing is a duplicate. The last row has `--concurrent`
 * devices (4) publish a largest backlog at the same moment: the receiver decodes one large
 * message at a time, so its peak stays near one message's.
 */
const runs = numericFlag('runs', 3);
/** Devices that publish a largest backlog at the same moment, in the last row. */
const concurrent = numericFlag('concurrent', 4);
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, MAX_ORIGINAL_PAYLOAD_BYTES, MAX_ORIGINAL_PAYLOAD_BYTES + MiB];
/** Over the limit nothing is stored; how long to watch for the broker's refusal. */
const REFUSAL_TIMEOUT_MS = 60_000;

const deviceId = (size: number, run: number) => `orig-${size}-${run}`;
const concurrentIds = (run: number) => Array.from({ length: concurrent }, (_, i) => `orig-many-${run}-${i}`);
const deviceIds = [
  ...SIZES.flatMap((size) => Array.from({ length: runs }, (_, run) => deviceId(size, run))),
  ...Array.from({ length: runs }, (_, run) => concurrentIds(run)).flat(),
];

/** One reading as the original stamps it (docs/original-system.md §11): balena identity, three values. */
function reading(device: string, ms: number): OriginalReading {
  return {
    _id: `${ms}-0`,
    _device_uuid: device,
    _device_type: 'raspberrypi4-64',
    _app_id: '1234567',
    _app_name: 'iot-projekt',
    temperature_celsius: (18 + (ms % 700) / 100).toFixed(2),
    humidity_percent: (40 + (ms % 900) / 100).toFixed(2),
    pressure_hpa: (990 + (ms % 400) / 10).toFixed(1),
  };
}

/** A backlog of at most `bytes` bytes of JSON, one reading a second up to now, as the original reads it. */
function backlog(device: string, bytes: number): { payload: string; readings: number } {
  const per = JSON.stringify(reading(device, Date.now())).length + 1;
  // Values differ in length by a character or two: estimate, then drop readings until it fits.
  const count = Math.ceil(bytes / per);
  const start = Date.now() - count * 1000;
  const readings = Array.from({ length: count }, (_, i) => reading(device, start + i * 1000));
  let payload = JSON.stringify(readings);
  while (Buffer.byteLength(payload) > bytes) {
    const over = Buffer.byteLength(payload) - bytes;
    readings.splice(0, Math.max(1, Math.floor(over / per)));
    payload = JSON.stringify(readings);
  }
  return { payload, readings: readings.length };
}

function memoryKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

async function connectDevice(id: string): Promise<MqttClient> {
  const client = mqtt.connect({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login(id), clientId: `device-${id}`, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => {});
  return client;
}

interface Outcome {
  readings: number;
  bytes: number;
  stored: boolean;
  /** Publish to the last reading stored, ms; NaN when not stored. */
  ms: number;
  idleRssMiB: number;
  peakRssMiB: number;
}

async function runOnce(size: number, run: number): Promise<Outcome> {
  const id = deviceId(size, run);
  const { payload, readings } = backlog(id, size);
  const bytes = Buffer.byteLength(payload);
  const receiver: ServiceProcess = await stack.startReceiver({ clientId: 'bench-receiver' });
  const pid = receiver.pid!;
  const idle = memoryKiB(pid);
  const client = await connectDevice(id);
  const started = performance.now();
  let stored = false;
  if (bytes <= MAX_ORIGINAL_PAYLOAD_BYTES) {
    await client.publishAsync(`iot-projekt/device/${id}/values`, payload, { qos: 1 });
    for (let count = 0; count < readings; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      count = await db.readings.countReadings(id);
    }
    stored = true;
  } else {
    // The broker's packet guard closes the connection (no PUBACK): nothing to wait for but that.
    client.publish(`iot-projekt/device/${id}/values`, payload, { qos: 1 });
    await broker.service.waitForLog(
      (r) => (r.event === 'packet_too_large' || r.event === 'publish_refused') && r.deviceId === id,
      REFUSAL_TIMEOUT_MS,
      'the refusal',
    );
  }
  const ms = stored ? performance.now() - started : Number.NaN;
  const { peak } = memoryKiB(pid);
  await client.endAsync(true);
  await receiver.stop();
  stack.receivers.splice(stack.receivers.indexOf(receiver), 1);
  if (!stored && (await db.readings.countReadings(id)) !== 0) throw new Error(`readings of the refused ${bytes}-byte message were stored`);
  return { readings, bytes, stored, ms, idleRssMiB: idle.rss / 1024, peakRssMiB: peak / 1024 };
}

/** `concurrent` devices publish a largest backlog each at once; stored when all are. */
async function runConcurrent(run: number): Promise<Outcome> {
  const ids = concurrentIds(run);
  const backlogs = ids.map((id) => backlog(id, MAX_ORIGINAL_PAYLOAD_BYTES));
  const receiver: ServiceProcess = await stack.startReceiver({ clientId: 'bench-receiver' });
  const pid = receiver.pid!;
  const idle = memoryKiB(pid);
  const clients = await Promise.all(ids.map(connectDevice));
  const started = performance.now();
  await Promise.all(clients.map((client, i) => client.publishAsync(`iot-projekt/device/${ids[i]}/values`, backlogs[i]!.payload, { qos: 1 })));
  const readings = backlogs.reduce((n, b) => n + b.readings, 0);
  for (let count = 0; count < readings; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    count = 0;
    for (const id of ids) count += await db.readings.countReadings(id);
  }
  const ms = performance.now() - started;
  const { peak } = memoryKiB(pid);
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await receiver.stop();
  stack.receivers.splice(stack.receivers.indexOf(receiver), 1);
  const bytes = backlogs.reduce((n, b) => n + Buffer.byteLength(b.payload), 0);
  return { readings, bytes, stored: true, ms, idleRssMiB: idle.rss / 1024, peakRssMiB: peak / 1024 };
}

progress(`starting aedes and SQLite; hashing ${deviceIds.length} device passwords...`);
const stack = await new BackendStack({ deviceIds, broker: 'aedes', database: 'sqlite' }).start();
if (!(stack.broker instanceof BrokerProcess)) throw new Error('expected the aedes broker process');
const broker = stack.broker;
// Migrations run with the first receiver; the handle opens after them.
await stack.startReceiver({ clientId: 'bench-receiver' });
const db = await stack.database();
await stack.receivers.pop()!.stop();
progress('backend up');

const results = new Map<number, Outcome[]>();
for (let run = 0; run < runs; run++) {
  for (const size of SIZES) {
    const outcome = await runOnce(size, run);
    results.set(size, [...(results.get(size) ?? []), outcome]);
    progress(
      `run ${run + 1}/${runs}, ${(outcome.bytes / MiB).toFixed(2)} MiB, ${outcome.readings} readings: ${outcome.stored ? `stored in ${(outcome.ms / 1000).toFixed(2)} s` : 'refused (over the limit)'}, receiver RSS ${outcome.idleRssMiB.toFixed(0)} → peak ${outcome.peakRssMiB.toFixed(0)} MiB`,
    );
  }
}

const together: Outcome[] = [];
for (let run = 0; run < runs; run++) {
  const outcome = await runConcurrent(run);
  together.push(outcome);
  progress(
    `run ${run + 1}/${runs}, ${concurrent} devices × 16 MiB at once, ${outcome.readings} readings: stored in ${(outcome.ms / 1000).toFixed(2)} s, receiver RSS ${outcome.idleRssMiB.toFixed(0)} → peak ${outcome.peakRssMiB.toFixed(0)} MiB`,
  );
}

const row = (outcomes: readonly Outcome[], label?: string) => {
  const first = outcomes[0]!;
  const stored = outcomes.every((o) => o.stored) ? 'yes' : outcomes.some((o) => o.stored) ? 'sometimes' : 'no';
  const seconds = outcomes.filter((o) => o.stored).map((o) => o.ms / 1000);
  const time = seconds.length === 0 ? '—' : `${median(seconds).toFixed(2)} (${seconds.map((s) => s.toFixed(2)).join(', ')})`;
  return `| ${label ?? (first.bytes / MiB).toFixed(2)} | ${first.readings} | ${stored} | ${time} | ${median(outcomes.map((o) => o.idleRssMiB)).toFixed(0)} | ${median(outcomes.map((o) => o.peakRssMiB)).toFixed(0)} |`;
};
const rows = [...SIZES.map((size) => row(results.get(size) ?? [])), row(together, `${concurrent} × ${(together[0]!.bytes / concurrent / MiB).toFixed(2)} at once`)];
const drained = SIZES.filter((size) => (results.get(size) ?? []).every((o) => o.stored)).at(-1);
const largest = drained === undefined ? undefined : results.get(drained)![0]!;
process.stdout.write(
  [
    '',
    `Original-format backlog as one QoS 1 message → aedes → receiver → SQLite, medians of ${runs} runs (node ${process.version})`,
    '| MiB | readings | stored | s to stored (runs) | receiver idle RSS MiB | receiver peak RSS MiB |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    largest === undefined ? 'No size drained.' : `Largest backlog that drains: ${largest.readings} readings (${(largest.bytes / largest.readings).toFixed(0)} bytes each) in ${(largest.bytes / MiB).toFixed(2)} MiB: ${(largest.readings / 3600).toFixed(1)} h offline at one reading a second.`,
    '',
  ].join('\n'),
);

await stack.dispose();
