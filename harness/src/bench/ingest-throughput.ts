import { randomBytes } from 'node:crypto';
import type { Ack } from '@iot/common/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { BackendStack } from '../harness/backend-stack.ts';
import { v1Batch } from './ingest-load.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * Sustained committed readings/s from many simulated devices through the aedes broker, one
 * receiver and MariaDB, all real processes on this machine.
 *
 *   npm run bench:ingest -- [--devices 100] [--batch 50] [--seconds 20] [--runs 3]
 *
 * Each device speaks protocol v1 as the uplink does: publish a batch (QoS 1), wait for the
 * receiver's ack (sent after the commit), publish the next. "Committed" counts readings in acks,
 * and is checked against the database's row count after every run.
 * Baseline, same run: the same batches written straight into the database by the same store the
 * receiver uses, one batch after another from one writer — what MariaDB gives a single writer here.
 */
const devices = numericFlag('devices', 100);
const batchSize = numericFlag('batch', 50);
const seconds = numericFlag('seconds', 20);
const runs = numericFlag('runs', 3);

const deviceIds = Array.from({ length: devices }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
progress(`starting MariaDB, aedes and a receiver; hashing ${devices} device passwords...`);
const stack = await new BackendStack({ deviceIds, broker: 'aedes', database: 'mariadb' }).start();
progress('backend up');
await stack.startReceiver();
progress('receiver up');
const db = await stack.database();

/** The batch that starts at entry `from` (a multiple of the batch size) of a device's boot. */
function makeBatch(deviceId: string, boot: string, from: number) {
  return v1Batch(deviceId, boot, from / batchSize, batchSize);
}

async function baseline(): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let stored = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 1 }, async (_, worker) => {
      const boot = randomBytes(8).toString('hex');
      for (let from = 0; Date.now() < deadline; from += batchSize) {
        const batch = makeBatch(deviceIds[worker % deviceIds.length]!, boot, from);
        const readings = batch.entries.map((e) => ({ bootId: e.boot, seq: e.seq, streamId: e.id, measuredAt: e.at, values: e.values }));
        stored += (await db.readings.storeReadings(batch.device, readings, { protocol: 'v1' })).stored;
      }
    }),
  );
  return stored / ((performance.now() - started) / 1000);
}

async function connectAll(): Promise<MqttClient[]> {
  return Promise.all(
    deviceIds.map(async (id) => {
      const client = mqtt.connect({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login(id), clientId: `device-${id}`, protocolVersion: 4 });
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      await client.subscribeAsync(`iot-projekt/device/${id}/ack`, { qos: 1 });
      return client;
    }),
  );
}

async function fleetRun(clients: MqttClient[]): Promise<{ rate: number; committed: number }> {
  const before = await db.readings.countReadings();
  const deadline = Date.now() + seconds * 1000;
  let committed = 0;
  const perDevice: Record<string, number> = {};
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, index) => {
      const id = deviceIds[index]!;
      const boot = randomBytes(8).toString('hex');
      for (let from = 0; Date.now() < deadline; from += batchSize) {
        const batch = makeBatch(id, boot, from);
        const acked = new Promise<Ack>((resolve) => {
          const onMessage = (_topic: string, payload: Buffer) => {
            const ack = JSON.parse(payload.toString()) as Ack;
            if (ack.batch !== batch.batch) return;
            client.off('message', onMessage);
            resolve(ack);
          };
          client.on('message', onMessage);
        });
        await client.publishAsync(`iot-projekt/device/${id}/readings`, JSON.stringify(batch), { qos: 1 });
        const got = await acked;
        committed += got.stored;
        perDevice[id] = (perDevice[id] ?? 0) + got.stored;
      }
    }),
  );
  const rate = committed / ((performance.now() - started) / 1000);
  const inDatabase = (await db.readings.countReadings()) - before;
  if (inDatabase !== committed) {
    const rows = await db.sql.read((sql) => sql.rows('SELECT device_id, COUNT(*) AS n FROM readings GROUP BY device_id'));
    progress(JSON.stringify(rows.slice(0, 30)));
    progress(JSON.stringify(perDevice));
  }
  if (inDatabase !== committed) throw new Error(`acks say ${committed} readings were committed, the database gained ${inDatabase}`);
  return { rate, committed };
}

const clients = await connectAll();
progress(`${clients.length} devices connected`);
const results = { baseline: [] as number[], fleet: [] as number[] };
for (let run = 1; run <= runs; run++) {
  progress('baseline...');
  results.baseline.push(await baseline());
  progress('fleet...');
  const fleet = await fleetRun(clients);
  results.fleet.push(fleet.rate);
  progress(`run ${run}/${runs}: direct to MariaDB ${results.baseline.at(-1)!.toFixed(0)}/s, ${devices} devices through aedes + receiver ${fleet.rate.toFixed(0)}/s (${fleet.committed} readings, matches the database)`);
}

const base = median(results.baseline);
process.stdout.write(
  [
    '',
    `Ingest, ${devices} devices, batches of ${batchSize}, ${runs} runs of ${seconds} s, committed readings/s (node ${process.version})`,
    '| what | median /s | ratio to baseline | runs |',
    '| --- | --- | --- | --- |',
    `| baseline: same batches straight into MariaDB, one writer | ${base.toFixed(0)} | 1.000 | ${results.baseline.map((v) => v.toFixed(0)).join(', ')} |`,
    `| ${devices} devices → aedes → receiver → MariaDB | ${median(results.fleet).toFixed(0)} | ${(median(results.fleet) / base).toFixed(3)} | ${results.fleet.map((v) => v.toFixed(0)).join(', ')} |`,
    '',
  ].join('\n'),
);

await Promise.all(clients.map((c) => c.endAsync()));
await stack.dispose();
