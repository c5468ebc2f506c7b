import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import type { Connection } from 'mysql2/promise';
import { MariaDbServer } from '../processes/mariadb-server.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { BenchWebAdmin, ms, type Stats, timeRounds } from './device-page.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * P6 (issue 15): server time of the web admin's pages at fleet scale.
 *
 *   npm run bench:webadmin-scale -- [--devices 5000] [--readings 10000000] [--device-readings 2000000]
 *                                   [--requests 40] [--rounds 3] [--buffer-pool-mb 2048]
 *
 * One MariaDB started by the harness holds two databases: the fleet (`--devices` devices,
 * `--readings` readings in all, `--device-readings` of them on dev-00000, whose device page is
 * measured; the rest spread evenly, 1 Hz, three metrics) and an almost empty baseline (20 devices,
 * 20 000 readings) with the same shape. Both are seeded by multi-row INSERTs of generated rows,
 * together with what the pages read besides readings: the devices' rows and counters, boots,
 * configuration twins (some drifting), minute and hour rollups (computed while generating, so
 * no refresh pass is needed). A tenth of the devices speak the original protocol (presence
 * inferred, suspected gaps searched). Then one web admin process per database (no broker) is
 * timed on every API call of the fleet page (default, search, filters, sorts, deep page), the
 * integrity page and the device page, from a client on loopback. The figure is the web admin's
 * own `Server-Timing: app;dur=` (arrival to response head, body serialised); the client's time
 * is reported beside it. p50/p95 per round over `--requests` requests (after 5 warm-ups), the
 * median of `--rounds` rounds; the baseline is measured in the same run, round for round.
 * Nothing writes meanwhile, so an original device's interval is inferred once and then cached.
 * Writes reports/bench/webadmin-scale.json.
 */
const deviceCount = numericFlag('devices', 5000);
const readingCount = numericFlag('readings', 10_000_000);
const deviceReadings = numericFlag('device-readings', Math.min(2_000_000, Math.floor(readingCount / 5)));
const requests = numericFlag('requests', 40);
const rounds = numericFlag('rounds', 3);
const bufferPoolMb = numericFlag('buffer-pool-mb', 2048);
for (const [flag, value] of Object.entries({ devices: deviceCount, readings: readingCount, 'device-readings': deviceReadings, requests, rounds })) {
  if (!Number.isSafeInteger(value)) fail(`--${flag} must be a whole number`);
}
if (deviceCount < 2) fail('--devices must be at least 2');
if (deviceReadings > readingCount) fail('--device-readings must not exceed --readings');
if (readingCount - deviceReadings < deviceCount - 1) fail('--readings must leave at least one reading for every other device');

const TARGET_P95_MS = 100;
const BIG = 'dev-00000';
const DAY = 24 * 3600 * 1000;
const REPORT = fileURLToPath(new URL('../../../reports/bench/webadmin-scale.json', import.meta.url));

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** Every API call the three pages make, by page; `end`: the newest reading's time. */
function pagePaths(end: number, devices: number): Record<string, Record<string, string>> {
  const id = encodeURIComponent(BIG);
  const middle = Math.floor(devices / 2 / 50) * 50;
  return {
    fleet: {
      'first page': '/api/fleet?limit=50',
      'search id': '/api/fleet?q=dev-001&limit=50',
      'search name': '/api/fleet?q=greenhouse%2012&limit=50',
      'status offline': '/api/fleet?status=offline&limit=50',
      'drifting, by last seen': '/api/fleet?drift=drifting&sort=last-seen&order=desc&limit=50',
      'by readings, middle page': `/api/fleet?sort=readings&order=desc&offset=${middle}&limit=50`,
      'by status, last page': `/api/fleet?sort=status&offset=${Math.max(0, devices - 50)}&limit=50`,
    },
    integrity: {
      'first page': '/api/integrity?limit=20',
      'middle page': `/api/integrity?limit=20&offset=${Math.floor(devices / 2 / 20) * 20}`,
      search: '/api/integrity?q=dev-0042&limit=20',
      rejections: '/api/rejections?limit=50&offset=0',
    },
    device: {
      device: `/api/devices/${id}`,
      'first reading': `/api/devices/${id}/readings?limit=1`,
      'series 24 h': `/api/devices/${id}/series?from=${end - DAY}&to=${end}&points=600`,
      'series 7 d': `/api/devices/${id}/series?from=${end - 7 * DAY}&to=${end}&points=600`,
      'series all': `/api/devices/${id}/series?from=0&to=${end}&points=600`,
      'readings 24 h': `/api/devices/${id}/readings?from=${end - DAY}&to=${end}&limit=50&order=desc`,
      commands: `/api/devices/${id}/commands?limit=50`,
    },
  };
}

interface Timings {
  server: Stats;
  client: Stats;
}

interface Row {
  page: string;
  request: string;
  path: string;
  scale: Timings;
  baseline: Timings;
  /** Server p95 against the baseline's. */
  p95Ratio: number;
  meetsTarget: boolean;
}

/** What to seed: `devices` devices holding `readings` readings, `bigReadings` of them on dev-00000, all ending near `end`. */
interface FleetPlan {
  devices: number;
  readings: number;
  bigReadings: number;
  end: number;
}

const METRICS = ['temperature_celsius', 'humidity_percent', 'pressure_hpa'] as const;
const ROWS_PER_INSERT = 4000;
const SEED_CONNECTIONS = 2;

/** Rows for one table, sent as multi-row INSERTs of literal tuples (generated data: numbers and plain ASCII only). */
class InsertBuffer {
  /** Rows sent so far. */
  sent = 0;
  private readonly tuples: string[] = [];
  private readonly conn: Connection;
  private readonly head: string;

  constructor(conn: Connection, table: string, columns: string) {
    this.conn = conn;
    this.head = `INSERT INTO ${table} (${columns}) VALUES `;
  }

  async add(tuple: string): Promise<void> {
    this.tuples.push(tuple);
    if (this.tuples.length >= ROWS_PER_INSERT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.tuples.length === 0) return;
    const sql = this.head + this.tuples.join(',');
    const rows = this.tuples.length;
    this.tuples.length = 0;
    await this.conn.query(sql);
    this.sent += rows;
  }
}

interface Bucket {
  start: number;
  count: number[];
  min: number[];
  max: number[];
  sum: number[];
}

/** Minute or hour aggregates of one device's readings in time order, written as rollup rows when a bucket closes. */
class RollupWriter {
  private bucket: Bucket | undefined;
  private readonly out: InsertBuffer;
  private readonly deviceId: string;
  private readonly widthMs: number;

  constructor(out: InsertBuffer, deviceId: string, widthMs: number) {
    this.out = out;
    this.deviceId = deviceId;
    this.widthMs = widthMs;
  }

  async add(at: number, values: readonly number[]): Promise<void> {
    const start = Math.floor(at / this.widthMs) * this.widthMs;
    if (this.bucket !== undefined && this.bucket.start !== start) await this.close();
    this.bucket ??= { start, count: [0, 0, 0], min: [Infinity, Infinity, Infinity], max: [-Infinity, -Infinity, -Infinity], sum: [0, 0, 0] };
    const b = this.bucket;
    values.forEach((v, m) => {
      b.count[m] = (b.count[m] ?? 0) + 1;
      b.min[m] = Math.min(b.min[m] ?? v, v);
      b.max[m] = Math.max(b.max[m] ?? v, v);
      b.sum[m] = (b.sum[m] ?? 0) + v;
    });
  }

  async close(): Promise<void> {
    const b = this.bucket;
    if (b === undefined) return;
    this.bucket = undefined;
    for (const [m, metric] of METRICS.entries()) {
      await this.out.add(`('${this.deviceId}',${this.widthMs / 1000},${b.start},'${metric}',${b.count[m]},${b.min[m]},${b.max[m]},${b.sum[m]})`);
    }
  }
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/**
 * Seeds database `database` with `plan`: device i is dev-<i>; a tenth speak the original
 * protocol (no boots or sequence numbers; half of them silent for an hour, a few with a 30 s gap
 * among their newest readings); of the v1 devices most are online, some offline, some have sent
 * no status; every 50th misses five sequence numbers; half have a desired configuration, a
 * tenth of those not reported back (drift); every third has a name. Readings at 1 Hz up to just
 * before the device was last seen. Two connections, each taking the next device.
 */
async function seedFleet(host: string, port: number, database: string, plan: FleetPlan, report: (text: string) => void): Promise<void> {
  const { createConnection } = await import('mysql2/promise');
  const share = Math.floor((plan.readings - plan.bigReadings) / (plan.devices - 1));
  const extra = plan.readings - plan.bigReadings - share * (plan.devices - 1);
  let next = 0;
  const readingBuffers: InsertBuffer[] = [];
  const started = performance.now();
  const ticker = setInterval(() => {
    const written = readingBuffers.reduce((sum, b) => sum + b.sent, 0);
    const seconds = (performance.now() - started) / 1000;
    report(`${written}/${plan.readings} readings stored, ${Math.min(next, plan.devices)}/${plan.devices} devices begun (${seconds.toFixed(0)} s, ${Math.round(written / seconds)}/s)`);
  }, 10_000);
  const worker = async (): Promise<void> => {
    const conn = await createConnection({ host, port, user: 'root', database });
    try {
      await conn.query('SET SESSION unique_checks = 0, foreign_key_checks = 0');
      const buffers = {
        readings: new InsertBuffer(conn, 'readings', 'device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json, clock_skew'),
        rollups: new InsertBuffer(conn, 'reading_rollups', 'device_id, resolution, bucket_start, metric, count, min_value, max_value, sum_value'),
        devices: new InsertBuffer(conn, 'devices', 'id, protocol, first_seen_at, last_seen_at, online, status_json, status_at, name, duplicates_absorbed, readings_stored'),
        boots: new InsertBuffer(conn, 'boots', 'device_id, boot_id, first_seen_at, readings, min_seq, max_seq'),
        desired: new InsertBuffer(conn, 'desired_configs', 'device_id, version, config_json, updated_at'),
        reported: new InsertBuffer(conn, 'reported_configs', 'device_id, version, config_json, reported_at'),
        progress: new InsertBuffer(conn, 'rollup_progress', 'device_id, generation, latest_bucket'),
        metrics: new InsertBuffer(conn, 'device_metrics', 'device_id, metric, first_seen_at'),
      };
      readingBuffers.push(buffers.readings);
      for (;;) {
        const i = next;
        next += 1;
        if (i >= plan.devices) break;
        await seedDevice(i, i === 0 ? plan.bigReadings : share + (i <= extra ? 1 : 0), plan.end, buffers);
      }
      for (const buffer of Object.values(buffers)) await buffer.flush();
    } finally {
      await conn.end();
    }
  };
  try {
    await Promise.all(Array.from({ length: SEED_CONNECTIONS }, worker));
  } finally {
    clearInterval(ticker);
  }
  const check = await createConnection({ host, port, user: 'root', database });
  try {
    const [rows] = (await check.query('SELECT COUNT(*) AS n FROM readings')) as unknown as [Array<{ n: number }>];
    if (Number(rows[0]?.n) !== plan.readings) throw new Error(`seeded ${rows[0]?.n} readings, expected ${plan.readings}`);
    await check.query('ANALYZE TABLE readings, devices, boots, reading_rollups, desired_configs, reported_configs');
  } finally {
    await check.end();
  }
  report(`${plan.readings} readings in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** One device's rows. */
async function seedDevice(i: number, count: number, end: number, out: Record<'readings' | 'rollups' | 'devices' | 'boots' | 'desired' | 'reported' | 'progress' | 'metrics', InsertBuffer>): Promise<void> {
  const id = `dev-${String(i).padStart(5, '0')}`;
  const original = i % 10 === 9;
  const kind = i % 10;
  const lastSeen = original ? (i % 20 === 9 ? end - 500 : end - 3600_000) : kind <= 6 ? end - (i % 5) * 1000 : kind === 7 ? end - 2 * 3600_000 - (i % 100) * 60_000 : end - 300_000;
  const newest = lastSeen - 200;
  const bootId = `b0075eed${i.toString(16).padStart(8, '0')}`;
  const gapped = !original && i % 50 === 1 && count > 20;
  const minutes = new RollupWriter(out.rollups, id, 60_000);
  const hours = new RollupWriter(out.rollups, id, 3_600_000);
  let first = newest;
  for (let k = 0; k < count; k++) {
    // Original devices every 30th: 30 s without readings a hundred readings before the newest.
    const at = newest - (count - 1 - k) * 1000 - (original && i % 30 === 29 && k < count - 100 ? 30_000 : 0);
    if (k === 0) first = at;
    const daily = Math.sin((2 * Math.PI * (at % 86_400_000)) / 86_400_000);
    const values = [round2(20 + 5 * daily + (i % 7) / 10), round2(50 - 10 * daily), 1013.25];
    const json = `{"${METRICS[0]}":${values[0]},"${METRICS[1]}":${values[1]},"${METRICS[2]}":${values[2]}}`;
    const seq = k + 1 + (gapped && k >= 9 ? 5 : 0);
    await out.readings.add(
      original ? `('${id}','s:${at}-0',NULL,NULL,'${at}-0',${at},${at + 50},'${json}',0)` : `('${id}','${bootId}:${seq}','${bootId}',${seq},'${at}-0',${at},${at + 50},'${json}',0)`,
    );
    await minutes.add(at, values);
    await hours.add(at, values);
  }
  await minutes.close();
  await hours.close();
  const hasStatus = !original && kind !== 8;
  const online = original || !hasStatus ? 'NULL' : kind <= 6 ? '1' : '0';
  const status = hasStatus
    ? `'{"online":${kind <= 6},"at":${lastSeen},"backlog":${i % 3 === 0 ? 12 : 0},"confirmed":"${newest}-0","measuring":true,"interval_seconds":1,"redis":{"used_memory":1048576,"maxmemory":268435456,"full":false},"config_version":2}'`
    : 'NULL';
  const name = i % 3 === 0 ? `'Greenhouse ${i}'` : 'NULL';
  await out.devices.add(`('${id}','${original ? 'original' : 'v1'}',${first},${lastSeen},${online},${status},${hasStatus ? lastSeen : 'NULL'},${name},0,${count})`);
  if (!original) await out.boots.add(`('${id}','${bootId}',${first},${count},1,${count + (gapped ? 5 : 0)})`);
  if (!original && i % 2 === 0) {
    await out.desired.add(`('${id}',2,'{"measurement:interval":"1","mqtt_sender:interval":"5"}',${end - 86_400_000})`);
    await out.reported.add(`('${id}',${i % 20 === 0 ? 1 : 2},'{"measurement:interval":"${i % 20 === 0 ? 5 : 1}","mqtt_sender:interval":"5"}',${end - 86_000_000})`);
  }
  await out.progress.add(`('${id}',1,${Math.floor(newest / 60_000) * 60_000})`);
  for (const metric of METRICS) await out.metrics.add(`('${id}','${metric}',${first})`);
}

const dir = makeTempDir('bench-webadmin-scale');
const mariadb = new MariaDbServer({
  dir: dir.path,
  // A server sized for the data, not the tests' 32 MB; the log flushed once a second, as for a bulk load.
  extraArgs: [`--innodb-buffer-pool-size=${bufferPoolMb}M`, '--innodb-log-file-size=512M', '--innodb-flush-log-at-trx-commit=2', '--max-allowed-packet=64M'],
});
const webs: BenchWebAdmin[] = [];
try {
  progress(`starting MariaDB (buffer pool ${bufferPoolMb} MB)`);
  await mariadb.start();
  const end = Date.now() - 1000;
  const fleetUrl = await mariadb.createDatabase('fleet');
  const baselineUrl = await mariadb.createDatabase('baseline');
  const plans: Record<'fleet' | 'baseline', FleetPlan> = {
    fleet: { devices: deviceCount, readings: readingCount, bigReadings: deviceReadings, end },
    baseline: { devices: 20, readings: 20_000, bigReadings: 5000, end },
  };
  const seeded: Record<string, { seconds: number; readingsPerSecond: number }> = {};
  for (const [name, url] of [
    ['fleet', fleetUrl],
    ['baseline', baselineUrl],
  ] as const) {
    const db = await openDatabase(parseDatabaseUrl(url), { migrate: true });
    await db.close();
    const started = performance.now();
    await seedFleet(mariadb.host, mariadb.port, name, plans[name], (text) => progress(`${name}: ${text}`));
    const seconds = (performance.now() - started) / 1000;
    seeded[name] = { seconds, readingsPerSecond: plans[name].readings / seconds };
  }
  const scale = await BenchWebAdmin.start(fleetUrl, `${dir.path}/webadmin-fleet.log`);
  webs.push(scale);
  const baseline = await BenchWebAdmin.start(baselineUrl, `${dir.path}/webadmin-baseline.log`);
  webs.push(baseline);

  const scalePaths = pagePaths(end, deviceCount);
  const basePaths = pagePaths(end, plans.baseline.devices);
  const rows: Row[] = [];
  // The machine is shared: its load beside the figures says how much they are worth.
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  for (const [page, paths] of Object.entries(scalePaths)) {
    const measured = new Map<string, Timings[]>();
    const base = new Map<string, Timings[]>();
    // Round for round, fleet then baseline, so both see the same machine.
    for (let round = 1; round <= rounds; round++) {
      for (const [request, path] of Object.entries(paths)) {
        const label = `${page} · ${request}, round ${round}/${rounds}`;
        const one = await timeRounds(scale, { [request]: path }, { requests, rounds: 1, label: `${label} (${deviceCount} devices)` });
        const other = await timeRounds(baseline, { [request]: basePaths[page]?.[request] ?? path }, { requests, rounds: 1, label: `${label} (baseline)` });
        measured.set(request, [...(measured.get(request) ?? []), one[request] as Timings]);
        base.set(request, [...(base.get(request) ?? []), other[request] as Timings]);
      }
    }
    for (const request of Object.keys(paths)) {
      const s = medianOf(measured.get(request) ?? []);
      const b = medianOf(base.get(request) ?? []);
      rows.push({ page, request, path: paths[request] ?? '', scale: s, baseline: b, p95Ratio: s.server.p95 / b.server.p95, meetsTarget: s.server.p95 <= TARGET_P95_MS });
    }
  }

  const lines = rows.map(
    (r) =>
      `${r.page.padEnd(9)} ${r.request.padEnd(25)} p50 ${ms(r.scale.server.p50)}  p95 ${ms(r.scale.server.p95)} | client p95 ${ms(r.scale.client.p95)} | baseline p50 ${ms(r.baseline.server.p50)}  p95 ${ms(r.baseline.server.p95)} | ×${r.p95Ratio.toFixed(1).padStart(5)} ${r.meetsTarget ? 'ok' : `OVER ${TARGET_P95_MS} ms`}`,
  );
  const worst = rows.reduce((a, b) => (b.scale.server.p95 > a.scale.server.p95 ? b : a));
  const load = { atStart: loadAtStart, atEnd: loadavg()[0] ?? Number.NaN };
  process.stdout.write(
    `\nWeb admin at fleet scale (MariaDB, ${deviceCount} devices, ${readingCount} readings, ${deviceReadings} on ${BIG}; baseline ${plans.baseline.devices} devices, ${plans.baseline.readings} readings)\n` +
      `server time (Server-Timing) in ms, p50/p95 of ${requests} requests, medians of ${rounds} rounds:\n${lines.join('\n')}\n` +
      `worst p95: ${worst.page} · ${worst.request} ${worst.scale.server.p95.toFixed(1)} ms (target ≤ ${TARGET_P95_MS} ms): ${rows.every((r) => r.meetsTarget) ? 'all within' : 'NOT all within'}\n` +
      `seeding: ${seeded.fleet?.seconds.toFixed(0)} s (${Math.round(seeded.fleet?.readingsPerSecond ?? 0)} readings/s); 1-minute load average ${load.atStart.toFixed(1)} when timing began, ${load.atEnd.toFixed(1)} at the end, on ${cpus().length} CPUs\n`,
  );
  mkdirSync(fileURLToPath(new URL('.', `file://${REPORT}`)), { recursive: true });
  writeFileSync(
    REPORT,
    `${JSON.stringify(
      {
        benchmark: 'webadmin-scale',
        command: `npm run bench:webadmin-scale -- ${process.argv.slice(2).join(' ')}`.trim(),
        at: new Date().toISOString(),
        machine: { cpus: cpus().length, node: process.version, loadAverage1m: load },
        config: { devices: deviceCount, readings: readingCount, deviceReadings, requests, rounds, bufferPoolMb, baseline: plans.baseline },
        targetP95Ms: TARGET_P95_MS,
        allWithinTarget: rows.every((r) => r.meetsTarget),
        seeding: seeded,
        results: rows,
      },
      null,
      2,
    )}\n`,
  );
  progress(`wrote ${REPORT}`);
} finally {
  for (const web of webs) await web.kill();
  await mariadb.dispose();
  dir.remove();
}

/** The medians over rounds of each round's p50 and p95. */
function medianOf(perRound: readonly Timings[]): Timings {
  const of = (pick: (t: Timings) => number): number => median(perRound.map(pick));
  return { server: { p50: of((t) => t.server.p50), p95: of((t) => t.server.p95) }, client: { p50: of((t) => t.client.p50), p95: of((t) => t.client.p95) } };
}
