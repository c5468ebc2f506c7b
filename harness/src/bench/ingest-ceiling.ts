import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import mqtt from 'mqtt';
import { BackendStack } from '../harness/backend-stack.ts';
import { findFreePort } from '../processes/free-port.ts';
import { MariaDbServer } from '../processes/mariadb-server.ts';
import { BULK_METHODS, bulkLoad, connectTo, LAYOUTS, type Target } from './ingest-bulk.ts';
import { connectDevices, freshBoot, type LoadShape, loadRows, openLoop, READING_COLUMNS } from './ingest-load.ts';
import { installNodeRed, startNodeRed } from './ingest-node-red.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * P2 of issue 15: sustained committed readings/s through broker, receiver and MariaDB, against
 * MariaDB's own ceiling for the same rows and against the best Node-RED 5 flow, on one MariaDB
 * started here (its buffer pool and redo log sized for a bulk load, the same for all three).
 *
 *   npm run bench:ingest-ceiling -- [--runs 3] [--devices 100] [--batch 50] [--batches 100]
 *     [--ungrouped] [--skip-node-red] [--skip-layouts] [--skip-ceiling] [--receiver-env NAME=VALUE]...
 *
 * One run's load: every device publishes --batches batches of --batch readings (QoS 1, open loop:
 * each as soon as the broker took the previous, never waiting for an ack). Its rows are what the
 * receiver writes; the ceiling loads exactly those rows into the migrated `readings` table by
 * multi-row INSERTs and LOAD DATA LOCAL INFILE with one to four writers, and the fastest median is
 * the ceiling. The receiver's figure is readings acknowledged / (last ack − first publish), checked
 * against the table's row count; Node-RED's is rows counted / (last row − first publish). The
 * readings table is emptied before every run. --ungrouped adds the receiver with every batch in its
 * own transaction (RECEIVER_GROUP_MAX_BATCHES=1), as before group commit. The layouts part loads the
 * same rows by the fastest method into alternative tables in a scratch database. --receiver-env
 * sets a variable of the receiver (tuning, profiling); --skip-* leave a part out.
 */
const KNOWN = new Set(['--runs', '--devices', '--batch', '--batches', '--ungrouped', '--skip-node-red', '--skip-layouts', '--skip-ceiling', '--receiver-env']);
const receiverEnv: Record<string, string> = {};
for (const [i, arg] of process.argv.entries()) {
  if (i < 2 || !arg.startsWith('--')) continue;
  if (!KNOWN.has(arg)) fail(`unknown flag ${arg}; known: ${[...KNOWN].join(' ')}`);
  if (arg !== '--receiver-env') continue;
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(process.argv[i + 1] ?? '');
  if (match === null) fail('--receiver-env needs NAME=VALUE');
  receiverEnv[match[1]!] = match[2]!;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
const runs = Math.floor(numericFlag('runs', 3));
const devices = Math.floor(numericFlag('devices', 100));
const batchSize = Math.floor(numericFlag('batch', 50));
const batches = Math.floor(numericFlag('batches', 100));
const ungrouped = process.argv.includes('--ungrouped');
const skipNodeRed = process.argv.includes('--skip-node-red');
const skipLayouts = process.argv.includes('--skip-layouts');
const skipCeiling = process.argv.includes('--skip-ceiling');

const deviceIds = Array.from({ length: devices }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
const shape: LoadShape = { deviceIds, batches, batchSize };
const total = devices * batches * batchSize;
/**
 * A run that makes no progress for this long has failed (lost readings, a crashed service). Longer
 * than aedes's drainTimeout (60 s) plus a reconnect: a receiver that held back for longer than that
 * is disconnected, and its session takes a while to come back on a loaded machine.
 */
const STALL_MS = 180_000;
/** The uplink's default ack timeout (UPLINK_ACK_TIMEOUT_SECONDS). */
const RESEND_AFTER_MS = 10_000;

progress(`load per run: ${devices} devices × ${batches} batches × ${batchSize} readings = ${total} readings; ${runs} runs`);
const mariadb = new MariaDbServer({
  extraArgs: ['--innodb-buffer-pool-size=1G', '--innodb-log-file-size=512M', '--max-connections=300', '--local-infile=1', '--max-allowed-packet=256M'],
});
await mariadb.start();
const target: Target = { host: '127.0.0.1', port: mariadb.port, database: mariadb.database };
const migrated = await openDatabase(parseDatabaseUrl(mariadb.url));
await migrated.close();
const admin = await connectTo(target);
const emptyReadings = async () => {
  for (const table of ['readings', 'boots', 'rollup_dirty']) await admin.query(`TRUNCATE TABLE ${table}`);
};
const countReadings = async () => Number(((await admin.query('SELECT COUNT(*) AS n FROM readings'))[0] as { n: number }[])[0]!.n);

const results: Record<string, number[]> = {};
const note = (name: string, value: number) => {
  results[name] = [...(results[name] ?? []), value];
};

progress(`starting aedes; hashing ${devices} device passwords...`);
const stack = await new BackendStack({ deviceIds, broker: 'aedes', databaseUrl: mariadb.url }).start();
const clients = await connectDevices(stack.brokerPort, deviceIds, (id) => stack.login(id));
progress(`${clients.length} devices connected`);
const red = skipNodeRed ? undefined : installNodeRed();

/**
 * Polls until `done`. With `resend`, a pause of {@link RESEND_AFTER_MS} without progress makes the
 * devices publish what was not acknowledged again, as their uplinks would after the ack timeout.
 */
async function waitUntil(what: string, done: () => Promise<boolean> | boolean, progressOf: () => Promise<number> | number, resend?: () => Promise<number>): Promise<void> {
  let last = -1;
  let lastChange = performance.now();
  let resentAt = performance.now();
  for (;;) {
    if (await done()) return;
    const now = await progressOf();
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > STALL_MS) {
      throw new Error(`${what}: no progress for ${STALL_MS / 1000} s at ${now} of ${total}`);
    } else if (resend !== undefined && performance.now() - Math.max(lastChange, resentAt) > RESEND_AFTER_MS) {
      resentAt = performance.now();
      progress(`${what}: no ack for ${RESEND_AFTER_MS / 1000} s at ${now} of ${total}; the devices send the ${await resend()} unacknowledged batches again`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** (a) MariaDB's ceiling for these rows: every method on the same rows, the table emptied before each. */
async function ceilingRun(run: number): Promise<void> {
  const rows = [...loadRows(shape, deviceIds.map(() => freshBoot()))];
  for (const method of BULK_METHODS) {
    await emptyReadings();
    const rate = await bulkLoad(target, 'readings', { columns: READING_COLUMNS, rows }, method);
    if ((await countReadings()) !== total) throw new Error(`${method.name} left ${await countReadings()} rows, not ${total}`);
    note(`ceiling: ${method.name}`, rate);
    progress(`run ${run}/${runs}: ${method.name}: ${rate.toFixed(0)} rows/s`);
  }
}

const groupStats: { run: number; label: string; commits: number; batchesPerCommit: number }[] = [];

/** (b) This receiver, started for the run (a persistent session, ended afterwards: it would queue what the next consumer is sent). */
async function receiverRun(run: number, label: string, env: Record<string, string>): Promise<void> {
  const healthPort = await findFreePort();
  const receiver = await stack.startReceiver({ clientId: 'receiver-bench', env: { ...env, RECEIVER_HEALTH_PORT: String(healthPort) } });
  try {
    await emptyReadings();
    const load = await openLoop(clients, shape);
    let acked = false;
    void load.allAcked.then(() => (acked = true));
    await waitUntil(label, () => acked, () => load.acked(), load.resendUnacked).catch(async (error: unknown) => {
      const scraped = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
      progress(scraped.split('\n').filter((l) => /^iot_receiver_(messages_in|message_bytes|group|database_up|batches_database|acks|readings_stored)/.test(l)).join('\n'));
      progress(receiver.logs().filter((r) => r.level !== 'debug' && r.level !== 'info').slice(-10).map((r) => JSON.stringify(r).slice(0, 500)).join('\n'));
      const [processes] = await admin.query("SELECT id, command, time, state, LEFT(info, 120) AS info FROM information_schema.processlist WHERE command <> 'Sleep' OR time > 5");
      progress(`database sessions: ${JSON.stringify(processes)}`);
      const [trx] = await admin.query('SELECT trx_id, trx_state, trx_started, trx_mysql_thread_id, LEFT(trx_query, 120) AS q FROM information_schema.innodb_trx');
      progress(`transactions: ${JSON.stringify(trx)}`);
      throw error;
    });
    const seconds = (load.lastAckAt()! - load.startedAt) / 1000;
    const inDatabase = await countReadings();
    if (inDatabase !== total || load.acked() !== total) throw new Error(`${label}: acks say ${load.acked()} stored, the table has ${inDatabase}, the load was ${total}`);
    note(label, total / seconds);
    const scraped = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(scraped)?.[1] ?? Number.NaN);
    const commits = value('iot_receiver_group_commits_total');
    groupStats.push({ run, label, commits, batchesPerCommit: value('iot_receiver_group_batches_total') / commits });
    progress(
      `run ${run}/${runs}: ${label}: ${(total / seconds).toFixed(0)} readings/s (published in ${((load.publishedAt - load.startedAt) / 1000).toFixed(1)} s; ` +
        `${commits} group commits of ${(value('iot_receiver_group_batches_total') / commits).toFixed(1)} batches on average; all ${total} in the table)`,
    );
  } finally {
    await receiver.stop();
    stack.receivers.splice(stack.receivers.indexOf(receiver), 1);
    const wipe = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...stack.login('receiver'), clientId: 'receiver-bench', clean: true, protocolVersion: 4 });
    await wipe.endAsync();
  }
}

const nodeRedLost: { run: number; lost: number }[] = [];

/** (c) The best Node-RED 5 flow on the same broker, database and load, started for the run. */
async function nodeRedRun(run: number, redJs: string): Promise<void> {
  const login = stack.login('receiver');
  const nodeRed = await startNodeRed(redJs, { mqtt: { port: stack.brokerPort, username: login.username, password: login.password, clientId: 'receiver-node-red' }, mysql: target });
  try {
    await emptyReadings();
    const load = await openLoop(clients, shape);
    load.detach();
    let rows = 0;
    let lastAt = performance.now();
    let highest = 0;
    // MAX(id) is one index lookup; COUNT(*) only once it says all might be there.
    const maxId = async () => {
      const id = Number(((await admin.query('SELECT COALESCE(MAX(id), 0) AS n FROM readings'))[0] as { n: number }[])[0]!.n);
      if (id !== highest) [highest, lastAt] = [id, performance.now()];
      return id;
    };
    // Node-RED sends no acks, so nothing can be sent again: what it did not store is lost.
    const complete = await waitUntil(
      NODE_RED,
      async () => {
        if ((await maxId()) < total) return false;
        rows = await countReadings();
        lastAt = performance.now();
        return rows >= total;
      },
      maxId,
    ).then(
      () => true,
      () => false,
    );
    if (!complete) rows = await countReadings();
    const seconds = (lastAt - load.startedAt) / 1000;
    note(NODE_RED, rows / seconds);
    if (rows < total) nodeRedLost.push({ run, lost: total - rows });
    progress(`run ${run}/${runs}: ${NODE_RED}: ${(rows / seconds).toFixed(0)} readings/s (${rows} of ${total} in the table${rows < total ? `, ${total - rows} LOST` : ''})`);
  } finally {
    await nodeRed.dispose();
  }
}

const RECEIVER = `receiver: ${devices} devices → aedes → receiver (group commit) → MariaDB`;
const UNGROUPED = 'receiver, a transaction per batch (RECEIVER_GROUP_MAX_BATCHES=1)';
const NODE_RED = 'Node-RED 5: mqtt in → function (one multi-row INSERT per batch) → mysql';
// Interleaved, so a neighbour's load on this shared machine falls on every contender alike.
const failures: { run: number; what: string; error: string }[] = [];
/** A contender that fails a run (stalls, loses readings) is reported as such; the others go on. */
const attempt = async (run: number, what: string, work: () => Promise<void>) => {
  try {
    await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push({ run, what, error: message });
    progress(`run ${run}/${runs}: ${what} FAILED: ${message}`);
  }
};
for (let run = 1; run <= runs; run++) {
  if (!skipCeiling) await ceilingRun(run);
  await attempt(run, RECEIVER, () => receiverRun(run, RECEIVER, receiverEnv));
  if (ungrouped) await attempt(run, UNGROUPED, () => receiverRun(run, UNGROUPED, { ...receiverEnv, RECEIVER_GROUP_MAX_BATCHES: '1' }));
  if (red !== undefined) await attempt(run, NODE_RED, () => nodeRedRun(run, red));
}
const ceilingMethods = BULK_METHODS.map((m) => ({ method: m, rate: median(results[`ceiling: ${m.name}`] ?? []) }));
const best = ceilingMethods.reduce((a, b) => (b.rate > a.rate || Number.isNaN(a.rate) ? b : a));
const ceiling = best.rate;

// (5) The readings table's alternative layouts, by the fastest method, in a scratch database.
const layouts: { name: string; readingsPerSecond: number; runs: number[] }[] = [];
if (!skipLayouts && !skipCeiling) {
  await admin.query('CREATE DATABASE IF NOT EXISTS scratch');
  for (let run = 1; run <= runs; run++) {
    const rows = [...loadRows(shape, deviceIds.map(() => freshBoot()))];
    for (const [i, layout] of LAYOUTS.entries()) {
      const table = `scratch.layout_${i}`;
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.query(layout.ddl(table));
      const rate = (await bulkLoad(target, table, layout.rows(rows), best.method)) / layout.rowsPerReading;
      await admin.query(`DROP TABLE ${table}`);
      note(`layout: ${layout.name}`, rate);
      progress(`run ${run}/${runs}: layout ${layout.name}: ${rate.toFixed(0)} readings/s`);
    }
  }
  for (const layout of LAYOUTS) layouts.push({ name: layout.name, readingsPerSecond: median(results[`layout: ${layout.name}`]!), runs: results[`layout: ${layout.name}`]! });
}

await Promise.all(clients.map((c) => c.endAsync()));
await stack.dispose();
await admin.end();
await mariadb.dispose();

const receiverRate = median(results[RECEIVER] ?? []);
const nodeRedRate = skipNodeRed ? Number.NaN : median(results[NODE_RED] ?? []);
const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');
const line = (name: string, value: number, base: number) => `| ${name} | ${fmt(value)} | ${(value / base).toFixed(3)} | ${(results[name] ?? []).map(fmt).join(', ')} |`;
process.stdout.write(
  [
    '',
    `P2 ingest ceiling: ${devices} devices × batches of ${batchSize}, ${total} readings per run, medians of ${runs} runs, readings/s (node ${process.version})`,
    '| what | median /s | of the ceiling | runs |',
    '| --- | --- | --- | --- |',
    ...(skipCeiling ? [] : ceilingMethods.map(({ method, rate }) => line(`ceiling: ${method.name}`, rate, ceiling))),
    line(RECEIVER, receiverRate, ceiling),
    ...(ungrouped ? [line(UNGROUPED, median(results[UNGROUPED] ?? []), ceiling)] : []),
    ...(skipNodeRed ? [] : [line(NODE_RED, nodeRedRate, ceiling)]),
    '',
    `receiver / ceiling (${best.method.name}): ${(receiverRate / ceiling).toFixed(3)} (target ≥ 0.8)`,
    ...failures.map((f) => `FAILED run ${f.run}: ${f.what}: ${f.error}`),
    ...(skipNodeRed ? [] : [`receiver / Node-RED: ${(receiverRate / nodeRedRate).toFixed(2)} (target ≥ 2)`]),
    '',
    ...(layouts.length === 0
      ? []
      : [
          `readings table layouts, loaded by ${best.method.name}, readings/s`,
          '| layout | median /s | vs as migrated | runs |',
          '| --- | --- | --- | --- |',
          ...layouts.map((l) => `| ${l.name} | ${fmt(l.readingsPerSecond)} | ${(l.readingsPerSecond / layouts[0]!.readingsPerSecond).toFixed(2)} | ${l.runs.map(fmt).join(', ')} |`),
          '',
        ]),
  ].join('\n'),
);

const report = join(dirname(fileURLToPath(import.meta.url)), '../../../reports/bench/ingest-ceiling.json');
mkdirSync(dirname(report), { recursive: true });
writeFileSync(
  report,
  `${JSON.stringify(
    {
      node: process.version,
      load: { devices, batchSize, batchesPerDevice: batches, readingsPerRun: total, runs, qos: 1, openLoop: true, broker: 'aedes' },
      ceiling: { method: best.method.name, readingsPerSecond: ceiling, methods: ceilingMethods.map(({ method, rate }) => ({ ...method, readingsPerSecond: rate, runs: results[`ceiling: ${method.name}`] })) },
      receiver: { readingsPerSecond: receiverRate, runs: results[RECEIVER], ofCeiling: receiverRate / ceiling, env: receiverEnv, groupCommits: groupStats },
      ...(ungrouped ? { receiverUngrouped: { readingsPerSecond: median(results[UNGROUPED] ?? []), runs: results[UNGROUPED] } } : {}),
      ...(skipNodeRed ? {} : { nodeRed: { readingsPerSecond: nodeRedRate, runs: results[NODE_RED], receiverRatio: receiverRate / nodeRedRate, lost: nodeRedLost } }),
      layouts,
      failures,
    },
    null,
    2,
  )}\n`,
);
progress(`wrote ${report}`);
