import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type FleetRunResult, fleetDeviceIds, harnessBackend, runFleet } from '../fleet/fleet-run.ts';
import { latencyChart } from '../fleet/latency-chart.ts';
import { median, numericFlag, progress } from './stats.ts';

/**
 * P5 and P3 of issue 15: virtual devices with the full device logic (harness/src/fleet) at
 * 1 reading/s against aedes, one receiver and MariaDB, all on this machine, stepping the fleet
 * size up.
 *
 *   npm run bench:fleet-scale -- [--steps 100,250,500,1000,1500,2000] [--seconds 60] [--runs 1]
 *                                [--baseline 10] [--workers 2] [--devices-per-redis 16] [--all]
 *   npm run bench:fleet-scale -- --redis-compare 160 [--seconds 30] [--runs 3]
 *
 * Per step: committed readings/s, latency measured → ack at the device (p50/p95/p99; an upper
 * bound of measured → commit) and measured → the receiver's received_at (a lower bound), CPU and
 * peak RSS of the fleet's workers, its redis-servers, the broker, the receiver and MariaDB, and
 * the checker (lost, duplicated). Baseline, same run: a fleet of --baseline devices, whose
 * latency is the system's when idle. Measuring starts once every device is up and the backlog
 * built up meanwhile is worked off. A step is sustained when every device was up, that backlog
 * was worked off, no device was more than a few readings behind at the end, the sensors kept
 * their 1 Hz (95 %), committed readings/s reached 95 % of the recorded ones, and the checker found
 * nothing lost or duplicated; stepping stops after the first step that is not (unless --all).
 * Writes reports/bench/fleet-scale.json and reports/bench/fleet-scale.svg.
 *
 * --redis-compare N measures instead how the devices' Redis is best laid out (redis-pool.ts):
 * N devices with a redis-server each against 16 devices per server, runs interleaved, CPU and RSS
 * of the redis-servers and the fleet, and latency; writes reports/bench/fleet-redis-layout.json.
 */
const steps = listFlag('steps', [100, 250, 500, 1000, 1500, 2000]);
const seconds = numericFlag('seconds', 60);
const runs = Math.round(numericFlag('runs', 1));
const baselineDevices = Math.round(numericFlag('baseline', 10));
const workers = Math.round(numericFlag('workers', 2));
const devicesPerRedis = Math.round(numericFlag('devices-per-redis', 16));
const all = process.argv.includes('--all');
const redisCompare = process.argv.includes('--redis-compare') ? Math.round(numericFlag('redis-compare', 160)) : undefined;
const INTERVAL_SECONDS = 1;
const REPORT_DIR = fileURLToPath(new URL('../../../reports/bench/', import.meta.url));

function listFlag(name: string, fallback: number[]): number[] {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const text = process.argv[at + 1] ?? '';
  const values = text.split(',').map((v) => Number(v.trim()));
  if (text === '' || values.some((v) => !Number.isInteger(v) || v < 1 || v > 20_000)) {
    process.stderr.write(`--${name} needs a comma-separated list of device counts from 1 to 20000 (got "${text}")\n`);
    process.exit(2);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

interface StepFigures {
  devices: number;
  runs: FleetRunResult[];
  committedPerSecond: number;
  recordedPerSecond: number;
  ackLatencyMs: { p50: number; p95: number; p99: number };
  dbLatencyMs: { p50: number; p95: number; p99: number };
  cpuCores: Record<string, number>;
  peakRssMb: Record<string, number>;
  /** Median of the fleet workers' per-second event-loop delay p99, ms. */
  workerLoopDelayP99: number;
  loadAverage: number;
  lost: number;
  duplicated: number;
  /** Whether every run's readings were all confirmed before the checker ran; if not, "lost" counts readings still on their way. */
  drained: boolean;
  sustained: boolean;
}

const largest = redisCompare ?? Math.max(baselineDevices, ...steps);
progress(`starting MariaDB, aedes and a receiver; hashing ${largest} device passwords...`);
const backend = await harnessBackend(fleetDeviceIds(largest, 'scale'), 'mariadb');
let interrupted = false;
const abort = new AbortController();
const stop = () => {
  interrupted = true;
  abort.abort();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

async function step(devices: number): Promise<StepFigures> {
  const results: FleetRunResult[] = [];
  for (let run = 1; run <= runs && !interrupted; run++) {
    progress(`${devices} devices, run ${run}/${runs}: starting...`);
    let lastLine = 0;
    const result = await runFleet({
      backend,
      devices,
      durationSeconds: seconds,
      intervalSeconds: INTERVAL_SECONDS,
      seed: run,
      workers,
      devicesPerRedis,
      signal: abort.signal,
      onProgress: (message) => progress(`  ${message}`),
      onSnapshot: (s, phase, elapsed) => {
        if (elapsed - lastLine < 10) return;
        lastLine = elapsed;
        const l = s.latencyMs;
        progress(`  ${elapsed.toFixed(0)} s ${phase}: ${s.connected}/${s.devices} up, ${s.fleetRate.toFixed(0)}/s, backlog ${s.backlog}${l === undefined ? '' : `, p50 ${l.p50} p99 ${l.p99} ms`}`);
      },
    });
    results.push(result);
    const c = result.checker;
    progress(
      `  → ${result.committedPerSecond.toFixed(0)} committed/s, ack p50/p95/p99 ${fmt(result.ackLatencyMs)} ms, db ${fmt(result.dbLatencyMs)} ms, lost ${c?.lost ?? '?'} duplicated ${c?.duplicated ?? '?'}`,
    );
  }
  const pick = (f: (r: FleetRunResult) => number) => median(results.map(f));
  const groups = [...new Set(results.flatMap((r) => Object.keys(r.cpuCores)))];
  const figures: StepFigures = {
    devices,
    runs: results,
    committedPerSecond: pick((r) => r.committedPerSecond),
    recordedPerSecond: pick((r) => r.recordedPerSecond),
    ackLatencyMs: { p50: pick((r) => r.ackLatencyMs?.p50 ?? Number.NaN), p95: pick((r) => r.ackLatencyMs?.p95 ?? Number.NaN), p99: pick((r) => r.ackLatencyMs?.p99 ?? Number.NaN) },
    dbLatencyMs: { p50: pick((r) => r.dbLatencyMs?.p50 ?? Number.NaN), p95: pick((r) => r.dbLatencyMs?.p95 ?? Number.NaN), p99: pick((r) => r.dbLatencyMs?.p99 ?? Number.NaN) },
    cpuCores: Object.fromEntries(groups.map((g) => [g, pick((r) => r.cpuCores[g] ?? 0)])),
    peakRssMb: Object.fromEntries(groups.map((g) => [g, pick((r) => r.peakRssMb[g] ?? 0)])),
    workerLoopDelayP99: pick((r) => r.workerEventLoopDelayMs?.p99Median ?? Number.NaN),
    loadAverage: pick((r) => r.loadAverage),
    lost: Math.max(...results.map((r) => r.checker?.lost ?? Number.NaN)),
    duplicated: Math.max(...results.map((r) => r.checker?.duplicated ?? Number.NaN)),
    drained: results.every((r) => r.drained),
    sustained: false,
  };
  figures.sustained =
    results.length > 0 &&
    results.every(
      (r) =>
        r.connectedAtStart === devices &&
        r.caughtUp &&
        // No device more than 5 readings (5 s) behind at the end: the backlog did not build up again.
        r.backlogMaxAtEnd <= 5 &&
        r.failures.length === 0 &&
        r.drained &&
        r.checker !== undefined &&
        r.checker.lost === 0 &&
        r.checker.duplicated === 0,
    ) &&
    figures.committedPerSecond >= 0.95 * figures.recordedPerSecond &&
    figures.recordedPerSecond >= 0.95 * (devices / INTERVAL_SECONDS);
  return figures;
}

function fmt(l: { p50: number; p95: number; p99: number } | undefined): string {
  return l === undefined ? '–' : `${l.p50}/${l.p95}/${l.p99}`;
}

if (redisCompare !== undefined) {
  const layouts = [1, 16];
  const results = new Map<number, FleetRunResult[]>(layouts.map((l) => [l, []]));
  try {
    for (let run = 1; run <= runs && !interrupted; run++) {
      for (const perServer of layouts) {
        progress(`${redisCompare} devices, ${perServer} per redis-server, run ${run}/${runs}...`);
        const r = await runFleet({ backend, durationSeconds: seconds, intervalSeconds: INTERVAL_SECONDS, seed: run, workers, devicesPerRedis: perServer, signal: abort.signal });
        results.get(perServer)!.push(r);
        progress(`  → redis ${r.cpuCores.redis?.toFixed(3)} cores, ${r.peakRssMb.redis} MB; fleet ${r.cpuCores.fleet?.toFixed(3)} cores; ack p99 ${r.ackLatencyMs?.p99} ms; lost ${r.checker?.lost}`);
      }
    }
  } finally {
    await backend.dispose();
  }
  if (interrupted) process.exit(130);
  const figures = layouts.map((perServer) => {
    const rs = results.get(perServer)!;
    return {
      devicesPerServer: perServer,
      servers: Math.ceil(redisCompare / perServer),
      redisCores: median(rs.map((r) => r.cpuCores.redis ?? Number.NaN)),
      redisRssMb: median(rs.map((r) => r.peakRssMb.redis ?? Number.NaN)),
      fleetCores: median(rs.map((r) => r.cpuCores.fleet ?? Number.NaN)),
      ackP99Ms: median(rs.map((r) => r.ackLatencyMs?.p99 ?? Number.NaN)),
      lost: Math.max(...rs.map((r) => r.checker?.lost ?? Number.NaN)),
      duplicated: Math.max(...rs.map((r) => r.checker?.duplicated ?? Number.NaN)),
      loadAverage: median(rs.map((r) => r.loadAverage)),
    };
  });
  const [one, shared] = figures as [(typeof figures)[0], (typeof figures)[0]];
  process.stdout.write(
    [
      '',
      `Redis layout, ${redisCompare} devices at 1 reading/s, ${seconds} s, median of ${runs} run(s) (baseline: one redis-server per device)`,
      '| devices per server | servers | redis CPU (cores) | redis RSS (MB) | fleet CPU (cores) | ack p99 ms | lost / dup | load avg |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...figures.map((f) => `| ${f.devicesPerServer} | ${f.servers} | ${f.redisCores.toFixed(3)} | ${f.redisRssMb} | ${f.fleetCores.toFixed(3)} | ${f.ackP99Ms} | ${f.lost} / ${f.duplicated} | ${f.loadAverage.toFixed(1)} |`),
      `ratio 16 per server / 1 per server: redis CPU ${(shared.redisCores / one.redisCores).toFixed(2)}, redis RSS ${(shared.redisRssMb / one.redisRssMb).toFixed(2)}`,
      '',
    ].join('\n'),
  );
  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(`${REPORT_DIR}fleet-redis-layout.json`, `${JSON.stringify({ benchmark: 'fleet-redis-layout', node: process.version, devices: redisCompare, seconds, runs, figures }, null, 2)}\n`);
  process.exit(0);
}

let baseline: StepFigures | undefined;
const measured: StepFigures[] = [];
try {
  baseline = await step(baselineDevices);
  for (const devices of steps) {
    if (interrupted) break;
    const figures = await step(devices);
    measured.push(figures);
    if (!figures.sustained && !all) {
      progress(`${devices} devices not sustained; stopping here (--all measures every step)`);
      break;
    }
  }
} finally {
  await backend.dispose();
}
if (baseline === undefined || interrupted) process.exit(130);

const sustained = measured.filter((s) => s.sustained);
const largestSustained = sustained.at(-1)?.devices;
const underOneSecond = sustained.filter((s) => s.ackLatencyMs.p99 <= 1000).at(-1)?.devices;
const at1000 = measured.find((s) => s.devices === 1000);
const base = baseline;
const row = (s: StepFigures) =>
  `| ${s.devices} | ${s.committedPerSecond.toFixed(0)} | ${s.ackLatencyMs.p50} / ${s.ackLatencyMs.p95} / ${s.ackLatencyMs.p99} | ${(s.ackLatencyMs.p99 / base.ackLatencyMs.p99).toFixed(1)}× | ${s.dbLatencyMs.p50} / ${s.dbLatencyMs.p95} / ${s.dbLatencyMs.p99} | ${Object.entries(s.cpuCores).map(([g, v]) => `${g} ${v.toFixed(2)}`).join(', ')} | ${Object.entries(s.peakRssMb).map(([g, v]) => `${g} ${v}`).join(', ')} | ${s.workerLoopDelayP99} | ${s.loadAverage.toFixed(1)} | ${s.lost} / ${s.duplicated}${s.drained ? '' : ' (not drained)'} | ${s.sustained ? 'yes' : 'no'} |`;
process.stdout.write(
  [
    '',
    `Fleet scale: virtual devices at ${INTERVAL_SECONDS} reading/s → aedes → receiver → MariaDB, ${seconds} s per step once every device is up, median of ${runs} run(s); ${workers} fleet workers, ${devicesPerRedis} devices per redis-server (node ${process.version}, ${cpus().length} cores)`,
    '| devices | committed/s | ack latency p50 / p95 / p99 ms | p99 vs baseline | received_at latency p50 / p95 / p99 ms | CPU (cores) | peak RSS (MB) | fleet loop delay p99 ms | load avg | lost / dup | sustained |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `${row(base)} (baseline)`,
    ...measured.map(row),
    '',
    `P5: ≥ 1000 devices sustained: ${sustained.some((s) => s.devices >= 1000) ? 'yes' : 'no'}; largest sustained step ${largestSustained ?? 'none'}; largest sustained with p99 ≤ 1 s: ${underOneSecond ?? 'none'}`,
    `P3: at 1000 devices × 1 Hz, ack p99 ${at1000 === undefined ? 'not measured' : `${at1000.ackLatencyMs.p99} ms (received_at p99 ${at1000.dbLatencyMs.p99} ms); target 50 ms`}`,
    '',
  ].join('\n'),
);

mkdirSync(REPORT_DIR, { recursive: true });
const summary = (s: StepFigures) => ({ ...s, runs: s.runs.map(({ checker, ...rest }) => ({ ...rest, checker: checker === undefined ? undefined : { ...checker, examples: undefined } })) });
writeFileSync(
  `${REPORT_DIR}fleet-scale.json`,
  `${JSON.stringify(
    {
      benchmark: 'fleet-scale',
      node: process.version,
      machine: { cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30) },
      options: { steps, seconds, runs, baselineDevices, workers, devicesPerRedis, intervalSeconds: INTERVAL_SECONDS },
      baseline: summary(base),
      steps: measured.map(summary),
      findings: {
        sustained1000: sustained.some((s) => s.devices >= 1000),
        largestSustained: largestSustained ?? null,
        largestSustainedWithP99UnderOneSecond: underOneSecond ?? null,
        at1000: at1000 === undefined ? null : { ackLatencyMs: at1000.ackLatencyMs, dbLatencyMs: at1000.dbLatencyMs },
      },
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  `${REPORT_DIR}fleet-scale.svg`,
  latencyChart(
    [base, ...measured].map((s) => ({ devices: s.devices, ...s.ackLatencyMs })),
    'Latency, reading measured → ack at the device, against fleet size',
  ),
);
progress(`wrote ${REPORT_DIR}fleet-scale.json and fleet-scale.svg`);
