import { openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import { findFreePort } from '../processes/free-port.ts';
import { MariaDbServer } from '../processes/mariadb-server.ts';
import { type ServiceProcess, startServiceProcess } from '../processes/service-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { median, numericFlag, percentile, progress } from './stats.ts';

/**
 * Server time of the web admin's device page for a device with many readings.
 *
 *   npm run bench:device-page -- [--readings 1000000] [--requests 100] [--runs 3] [--database sqlite|mariadb]
 *
 * Seeds one device with `--readings` readings (1 Hz, three metrics) through the receiver's own
 * store, lets the rollups catch up, then starts the real web admin process and times, from a
 * client on loopback, every request the device page makes when it opens (the HTML shell, the
 * session, the device with its latest reading, the chart series (600 points), the first table
 * page (newest first), the command history), one after
 * another. A page load is the sum of those. Baseline in the same run: the same page for a device
 * with 1 000 readings. Reports the median over runs of each run's p50 and p95.
 *
 * The web admin process and the timing of its requests ({@link BenchWebAdmin}, {@link timeRounds})
 * are shared with bench:webadmin-scale.
 */

/** p50 and p95 of a set of samples, ms. */
export interface Stats {
  p50: number;
  p95: number;
}

/** One request timed: the web admin's own Server-Timing (`app;dur=`) and the client's on loopback, ms. */
export interface Timing {
  server: number;
  client: number;
}

/** The real web admin process (no broker) on a database, logged in as an admin. */
export class BenchWebAdmin {
  readonly base: string;
  private readonly process: ServiceProcess;
  private readonly cookie: string;

  private constructor(base: string, process: ServiceProcess, cookie: string) {
    this.base = base;
    this.process = process;
    this.cookie = cookie;
  }

  static async start(databaseUrl: string, logFile: string): Promise<BenchWebAdmin> {
    const port = await findFreePort();
    const admin = { username: 'bench', password: 'bench-password-1' };
    const process = startServiceProcess(
      'webadmin',
      {
        WEBADMIN_PORT: String(port),
        WEBADMIN_HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        WEBADMIN_MQTT: 'false',
        WEBADMIN_ADMIN_USERNAME: admin.username,
        WEBADMIN_ADMIN_PASSWORD: admin.password,
      },
      { logFile },
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      await process.waitForLog((r) => r.event === 'webadmin_listening', 60_000, 'the web admin to listen');
      const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin) });
      if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
      return new BenchWebAdmin(base, process, (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '');
    } catch (error) {
      await process.kill();
      throw error;
    }
  }

  /** GETs `path` (a 200 or it throws) and reads the whole body. */
  async time(path: string): Promise<Timing> {
    const started = performance.now();
    const response = await fetch(`${this.base}${path}`, { headers: { cookie: this.cookie } });
    await response.arrayBuffer();
    const client = performance.now() - started;
    if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
    const server = Number(/app;dur=([\d.]+)/.exec(response.headers.get('server-timing') ?? '')?.[1] ?? Number.NaN);
    return { server, client };
  }

  kill(): Promise<unknown> {
    return this.process.kill();
  }
}

/** Per request name: p50/p95 of the server and client times, each the median over rounds. */
export type RoundStats = Record<string, { server: Stats; client: Stats }>;

/**
 * Times `requests` of each named path per round (after `warmup` untimed ones), `rounds` times,
 * and gives per name the median over rounds of each round's p50 and p95. `sequence` true: all
 * paths one after another per iteration, as a page load does, plus a `page load` total.
 */
export async function timeRounds(
  web: BenchWebAdmin,
  paths: Record<string, string>,
  options: { requests: number; rounds: number; warmup?: number; label: string; pageLoad?: boolean },
): Promise<RoundStats> {
  const warmup = options.warmup ?? 5;
  const perRound: RoundStats[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const names = [...Object.keys(paths), ...(options.pageLoad ? ['page load'] : [])];
    const samples = Object.fromEntries(names.map((n) => [n, { server: [] as number[], client: [] as number[] }]));
    for (let i = 0; i < options.requests + warmup; i++) {
      const total = { server: 0, client: 0 };
      for (const [name, path] of Object.entries(paths)) {
        const timing = await web.time(path);
        total.server += timing.server;
        total.client += timing.client;
        if (i >= warmup) {
          samples[name]?.server.push(timing.server);
          samples[name]?.client.push(timing.client);
        }
      }
      if (i >= warmup && options.pageLoad) {
        samples['page load']?.server.push(total.server);
        samples['page load']?.client.push(total.client);
      }
    }
    const stats = (v: number[]): Stats => ({ p50: percentile(v, 0.5), p95: percentile(v, 0.95) });
    perRound.push(Object.fromEntries(Object.entries(samples).map(([n, s]) => [n, { server: stats(s.server), client: stats(s.client) }])));
    const worst = Math.max(...Object.values(perRound.at(-1) ?? {}).map((s) => s.server.p95));
    progress(`${options.label}: round ${round}/${options.rounds}, worst server p95 ${worst.toFixed(1)} ms`);
  }
  const names = Object.keys(perRound[0] ?? {});
  const med = (pick: (s: RoundStats) => number): number => median(perRound.map(pick));
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        server: { p50: med((r) => r[n]?.server.p50 ?? Number.NaN), p95: med((r) => r[n]?.server.p95 ?? Number.NaN) },
        client: { p50: med((r) => r[n]?.client.p50 ?? Number.NaN), p95: med((r) => r[n]?.client.p95 ?? Number.NaN) },
      },
    ]),
  );
}

export function ms(value: number): string {
  return value.toFixed(1).padStart(7);
}

const BIG = 'bench-big';
const SMALL = 'bench-small';
const DAY = 24 * 3600 * 1000;

/** Seeds both devices through ReadingStore (as the receiver does) and brings the rollups up to date. */
async function seed(databaseUrl: string, end: number, readingCount: number): Promise<void> {
  const db = await openDatabase(parseDatabaseUrl(databaseUrl));
  try {
    for (const [deviceId, count] of [
      [BIG, readingCount],
      [SMALL, 1000],
    ] as const) {
      const start = end - count * 1000;
      const started = performance.now();
      for (let from = 0; from < count; from += 1000) {
        const batch = Array.from({ length: Math.min(1000, count - from) }, (_, i) => {
          const seq = from + i + 1;
          const at = start + seq * 1000;
          const daily = Math.sin((2 * Math.PI * (at % DAY)) / DAY);
          return {
            bootId: 'b0075eed00000001',
            seq,
            streamId: `${at}-0`,
            measuredAt: at,
            values: { temperature_celsius: Math.round((20 + 5 * daily) * 100) / 100, humidity_percent: Math.round((50 - 10 * daily) * 100) / 100, pressure_hpa: 1013.25 },
          };
        });
        await db.readings.storeReadings(deviceId, batch);
        if ((from / 1000) % 50 === 0) progress(`seeding ${deviceId}: ${from + batch.length}/${count} readings (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
      const stored = await db.readings.countReadings(deviceId);
      if (stored !== count) throw new Error(`seeding ${deviceId} stored ${stored} readings, expected ${count}`);
    }
    const pending = await db.rollups.pending();
    for (let done = 0; ; ) {
      const { buckets } = await db.rollups.refresh();
      if (buckets === 0) break;
      done += buckets;
      if (done % 5000 < buckets) progress(`rollups: ${done}/${pending} minute buckets`);
    }
  } finally {
    await db.close();
  }
}

/** The requests the device page makes when it opens, for `deviceId` over [from, to]. */
function devicePagePaths(deviceId: string, from: number, to: number): Record<string, string> {
  const id = encodeURIComponent(deviceId);
  return {
    shell: `/devices/${id}`,
    session: '/api/session',
    device: `/api/devices/${id}`,
    series: `/api/devices/${id}/series?from=${from}&to=${to}&points=600`,
    readings: `/api/devices/${id}/readings?from=${from}&to=${to}&limit=50&order=desc`,
    commands: `/api/devices/${id}/commands?limit=50`,
  };
}

async function main(): Promise<void> {
  const readingCount = numericFlag('readings', 1_000_000);
  const requests = numericFlag('requests', 100);
  const runs = numericFlag('runs', 3);
  const databaseFlag = process.argv.includes('--database') ? process.argv[process.argv.indexOf('--database') + 1] : 'sqlite';
  if (databaseFlag !== 'sqlite' && databaseFlag !== 'mariadb') {
    process.stderr.write('--database must be sqlite or mariadb\n');
    process.exit(2);
  }
  const dir = makeTempDir('bench-device-page');
  const mariadb = databaseFlag === 'mariadb' ? new MariaDbServer() : undefined;
  let web: BenchWebAdmin | undefined;
  try {
    await mariadb?.start();
    const databaseUrl = mariadb?.url ?? `sqlite:${dir.path}/bench.sqlite`;
    const end = Date.now();
    await seed(databaseUrl, end, readingCount);
    web = await BenchWebAdmin.start(databaseUrl, `${dir.path}/webadmin.log`);
    const ranges = { '24 h': DAY, '7 d': 7 * DAY, '30 d': 30 * DAY };
    const results: string[] = [];
    for (const [label, span] of Object.entries(ranges)) {
      const options = { requests, rounds: runs, pageLoad: true };
      const big = await timeRounds(web, devicePagePaths(BIG, end - span, end), { ...options, label: `${label}, ${readingCount} readings` });
      const small = await timeRounds(web, devicePagePaths(SMALL, end - span, end), { ...options, label: `${label}, 1000 readings (baseline)` });
      for (const name of Object.keys(big)) {
        const b = big[name]?.client as Stats;
        const s = small[name]?.client as Stats;
        results.push(
          `${label.padEnd(5)} ${name.padEnd(9)} p50 ${ms(b.p50)}  p95 ${ms(b.p95)}   | baseline p50 ${ms(s.p50)}  p95 ${ms(s.p95)}   | p95 ratio ${(b.p95 / s.p95).toFixed(2)}`,
        );
      }
    }
    process.stdout.write(
      `\nDevice page server time (${databaseFlag}, ${requests} page loads per run, medians of ${runs} runs; times in ms, client on loopback):\n${results.join('\n')}\n`,
    );
  } finally {
    await web?.kill();
    await mariadb?.dispose();
    dir.remove();
  }
}

if (import.meta.main) await main();
