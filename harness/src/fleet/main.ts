import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { externalBackend, type FleetBackend, type FleetRunResult, fleetDeviceIds, harnessBackend, runFleet } from './fleet-run.ts';
import { FlagError, type FleetFlags, parseFleetFlags, USAGE } from './flags.ts';
import { ProgressDisplay } from './progress-display.ts';

/**
 * npm run fleet -- --devices N: N virtual devices with the full device logic against the
 * harness's backend (or one given by --mqtt-url), a progress line, and the checker's figures at
 * the end (docs/fleet-simulator.md). Exit 0 when every recorded reading is stored exactly once,
 * 1 when not, 2 for a bad command line, 130/143 when interrupted.
 */
class Interrupted extends Error {}

let flags: FleetFlags;
try {
  const parsed = parseFleetFlags(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  flags = parsed;
} catch (error) {
  if (!(error instanceof FlagError)) throw error;
  process.stderr.write(`fleet: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}

const display = new ProgressDisplay();
const abort = new AbortController();
let exitCode = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (abort.signal.aborted) return;
  exitCode = signal === 'SIGINT' ? 130 : 143;
  display.message(`${signal}: stopping the fleet and the backend...`);
  abort.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let backend: FleetBackend | undefined;
try {
  if (flags.backend.kind === 'harness') {
    display.message(`starting the backend (aedes, a receiver, ${flags.backend.database}); hashing ${flags.devices} device passwords...`);
    backend = await harnessBackend(fleetDeviceIds(flags.devices), flags.backend.database);
  } else {
    backend = externalBackend({ ...flags.backend, devices: flags.devices });
  }
  if (abort.signal.aborted) throw new Interrupted();
  display.message(`starting ${flags.devices} devices in ${flags.workers} worker processes, ${flags.devicesPerRedis} per redis-server...`);
  const result = await runFleet({
    backend,
    durationSeconds: flags.durationSeconds,
    intervalSeconds: flags.intervalSeconds,
    seed: flags.seed,
    workers: flags.workers,
    devicesPerRedis: flags.devicesPerRedis,
    signal: abort.signal,
    onSnapshot: (snapshot, phase, elapsed) => display.show(snapshot, phase, elapsed),
    onProgress: (message) => display.message(message),
    ...(flags.logDir === undefined ? {} : { logDir: flags.logDir }),
  });
  display.end();
  if (!result.interrupted) {
    process.stdout.write(summary(result));
    if (flags.json !== undefined) {
      mkdirSync(dirname(flags.json), { recursive: true });
      writeFileSync(flags.json, `${JSON.stringify({ flags: { ...flags, backend: flags.backend.kind }, ...result }, null, 2)}\n`);
      process.stdout.write(`figures written to ${flags.json}\n`);
    }
    if (!passed(result)) exitCode = 1;
  }
} catch (error) {
  if (!(error instanceof Interrupted)) {
    display.message(`fleet: ${(error as Error).message}`);
    exitCode = 1;
  }
} finally {
  await backend?.dispose();
}
process.exit(exitCode);

function passed(r: FleetRunResult): boolean {
  const c = r.checker;
  return c !== undefined && c.lost === 0 && c.duplicated === 0 && c.corrupted === 0 && r.failures.length === 0;
}

function summary(r: FleetRunResult): string {
  const lat = (l: FleetRunResult['ackLatencyMs']) => (l === undefined ? 'none' : `p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.count} readings)`);
  const c = r.checker;
  const problems = Object.entries(r.problems).sort((a, b) => b[1] - a[1]);
  return [
    '',
    `Fleet of ${r.devices} devices: ${r.connectedAtStart} up after ${r.rampSeconds.toFixed(1)} s, backlog ${r.caughtUp ? 'worked off' : 'NOT worked off'} after ${r.warmupSeconds.toFixed(1)} s more (${r.backlogAtStart} left), measured ${r.measuredSeconds.toFixed(1)} s`,
    `  committed ${r.committedPerSecond.toFixed(1)} readings/s (recorded ${r.recordedPerSecond.toFixed(1)}/s); per device median ${r.perDeviceRate.median.toFixed(2)}/s, min ${r.perDeviceRate.min.toFixed(2)}, max ${r.perDeviceRate.max.toFixed(2)}`,
    `  latency, measured → ack at the device (upper bound): ${lat(r.ackLatencyMs)}`,
    `  latency, measured → receiver's received_at (lower bound): ${lat(r.dbLatencyMs)}`,
    `  CPU (cores): ${Object.entries(r.cpuCores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}; peak RSS (MB): ${Object.entries(r.peakRssMb).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  fleet workers' event-loop delay: ${r.workerEventLoopDelayMs === undefined ? '–' : `p99 ${r.workerEventLoopDelayMs.p99Median} ms (median of their per-second p99s), max ${r.workerEventLoopDelayMs.max} ms`}`,
    `  drained: ${r.drained ? 'yes' : 'NO'}; machine load average ${r.loadAverage.toFixed(2)}`,
    c === undefined
      ? '  checker: not run'
      : `  checker: recorded ${c.recorded}, stored ${c.stored}, lost ${c.lost}, duplicated ${c.duplicated}, corrupted ${c.corrupted}, unexpected ${c.unexpected}`,
    ...(c !== undefined && c.examples.lost.length > 0 ? [`  lost e.g. ${c.examples.lost.slice(0, 5).join(', ')}`] : []),
    ...(problems.length > 0 ? [`  warnings/errors by event: ${problems.slice(0, 8).map(([e, n]) => `${e} ${n}`).join(', ')}`] : []),
    ...r.failures.map((f) => `  FAILURE: ${f}`),
    passed(r) ? 'PASS: every recorded reading stored exactly once' : 'FAIL',
    '',
  ].join('\n');
}
