import { openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import { findFreePort } from '../processes/free-port.ts';
import { MariaDbServer } from '../processes/mariadb-server.ts';
import { startServiceProcess } from '../processes/service-process.ts';
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
 */
const readingCount = numericFlag('readings', 1_000_000);
const requests = numericFlag('requests', 100);
const runs = numericFlag('runs', 3);
const databaseFlag = process.argv.includes('--database') ? process.argv[process.argv.indexOf('--database') + 1] : 'sqlite';
if (databaseFlag !== 'sqlite' && databaseFlag !== 'mariadb') {
  process.stderr.write('--database must be sqlite or mariadb\n');
  process.exit(2);
}

const BIG = 'bench-big';
const SMALL = 'bench-small';
const DAY = 24 * 3600 * 1000;
const dir = makeTempDir('bench-device-page');
const mariadb = databaseFlag === 'mariadb' ? new MariaDbServer() : undefined;
let webadmin: ReturnType<typeof startServiceProcess> | undefined;

try {
  await mariadb?.start();
  const databaseUrl = mariadb?.url ?? `sqlite:${dir.path}/bench.sqlite`;
  const end = Date.now();
  await seed(databaseUrl, end);

  const port = await findFreePort();
  const admin = { username: 'bench', password: 'bench-password-1' };
  webadmin = startServiceProcess(
    'webadmin',
    {
      WEBADMIN_PORT: String(port),
      WEBADMIN_HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      WEBADMIN_MQTT: 'false',
      WEBADMIN_ADMIN_USERNAME: admin.username,
      WEBADMIN_ADMIN_PASSWORD: admin.password,
    },
    { logFile: `${dir.path}/webadmin.log` },
  );
  const base = `http://127.0.0.1:${port}`;
  await webadmin.waitForLog((r) => r.event === 'webadmin_listening', 30_000, 'the web admin to listen');
  const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin) });
  if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

  const ranges = { '24 h': DAY, '7 d': 7 * DAY, '30 d': 30 * DAY };
  const results: string[] = [];
  for (const [label, span] of Object.entries(ranges)) {
    const big = await measure(base, cookie, BIG, end - span, end, `${label}, ${readingCount} readings`);
    const small = await measure(base, cookie, SMALL, end - span, end, `${label}, 1000 readings (baseline)`);
    for (const name of Object.keys(big)) {
      const b = big[name] as Stats;
      const s = small[name] as Stats;
      results.push(
        `${label.padEnd(5)} ${name.padEnd(9)} p50 ${ms(b.p50)}  p95 ${ms(b.p95)}   | baseline p50 ${ms(s.p50)}  p95 ${ms(s.p95)}   | p95 ratio ${(b.p95 / s.p95).toFixed(2)}`,
      );
    }
  }
  process.stdout.write(
    `\nDevice page server time (${databaseFlag}, ${requests} page loads per run, medians of ${runs} runs; times in ms, client on loopback):\n${results.join('\n')}\n`,
  );
} finally {
  await webadmin?.kill();
  await mariadb?.dispose();
  dir.remove();
}

interface Stats {
  p50: number;
  p95: number;
}

/** Seeds both devices through ReadingStore (as the receiver does) and brings the rollups up to date. */
async function seed(databaseUrl: string, end: number): Promise<void> {
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

/** Times `requests` loads of the device page for `deviceId` over [from, to], `runs` times. */
async function measure(base: string, cookie: string, deviceId: string, from: number, to: number, label: string): Promise<Record<string, Stats>> {
  const id = encodeURIComponent(deviceId);
  const page: Record<string, string> = {
    shell: `/devices/${id}`,
    session: '/api/session',
    device: `/api/devices/${id}`,
    series: `/api/devices/${id}/series?from=${from}&to=${to}&points=600`,
    readings: `/api/devices/${id}/readings?from=${from}&to=${to}&limit=50&order=desc`,
    commands: `/api/devices/${id}/commands?limit=50`,
  };
  const perRun: Array<Record<string, Stats>> = [];
  for (let run = 1; run <= runs; run++) {
    const samples: Record<string, number[]> = Object.fromEntries([...Object.keys(page), 'page load'].map((k) => [k, []]));
    for (let i = 0; i < requests + 5; i++) {
      let total = 0;
      for (const [name, path] of Object.entries(page)) {
        const started = performance.now();
        const response = await fetch(`${base}${path}`, { headers: { cookie } });
        await response.arrayBuffer();
        const elapsed = performance.now() - started;
        if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
        total += elapsed;
        // The first five loads warm caches and are not counted.
        if (i >= 5) samples[name]?.push(elapsed);
      }
      if (i >= 5) samples['page load']?.push(total);
    }
    perRun.push(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { p50: percentile(v, 0.5), p95: percentile(v, 0.95) }])));
    progress(`${label}: run ${run}/${runs}, page load p95 ${ms(perRun.at(-1)?.['page load']?.p95 ?? Number.NaN)} ms`);
  }
  const names = Object.keys(perRun[0] ?? {});
  return Object.fromEntries(names.map((n) => [n, { p50: median(perRun.map((r) => r[n]?.p50 ?? Number.NaN)), p95: median(perRun.map((r) => r[n]?.p95 ?? Number.NaN)) }]));
}

function ms(value: number): string {
  return value.toFixed(1).padStart(7);
}
