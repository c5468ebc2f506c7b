import { loadavg } from 'node:os';
import { type Database, openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import { checkDelivery, type DeliveryReport, type StoredReading } from '../checker/delivery-checker.ts';
import { BackendStack } from '../harness/backend-stack.ts';
import { storedReadings } from '../harness/check-system.ts';
import { BrokerProcess } from '../processes/broker-process.ts';
import { readFleetCredentials } from './credentials-file.ts';
import { Fleet, type FleetDevice, type FleetSnapshot } from './fleet.ts';
import { type LatencySummary, summarize } from './latency-log.ts';
import { UsageMeter } from './process-usage.ts';

/** Where a fleet sends its readings: a broker, the devices' logins there, the database the checker reads. */
export interface FleetBackend {
  mqtt: { host: string; port: number };
  devices: readonly FleetDevice[];
  databaseUrl: string;
  /** The backend's processes on this machine, by role, for CPU and RSS (none for a remote one). */
  pids(): Record<string, number[]>;
  dispose(): Promise<void>;
}

/** The harness's backend: aedes, one receiver, MariaDB (or SQLite), with a login for each device. */
export async function harnessBackend(deviceIds: readonly string[], database: 'mariadb' | 'sqlite'): Promise<FleetBackend & { stack: BackendStack }> {
  const stack = new BackendStack({ deviceIds, broker: 'aedes', database });
  try {
    await stack.start();
    await stack.startReceiver();
  } catch (error) {
    await stack.dispose();
    throw error;
  }
  return {
    stack,
    mqtt: { host: '127.0.0.1', port: stack.brokerPort },
    devices: deviceIds.map((id) => ({ id, ...stack.login(id) })),
    databaseUrl: stack.databaseUrl,
    pids: () => ({
      broker: stack.broker instanceof BrokerProcess && stack.broker.service.pid !== undefined ? [stack.broker.service.pid] : [],
      receiver: stack.receivers.map((r) => r.pid).filter((p): p is number => p !== undefined),
      database: stack.mariadb?.pid === undefined ? [] : [stack.mariadb.pid],
    }),
    dispose: () => stack.dispose(),
  };
}

/** A running backend given by address; the caller owns it. */
export function externalBackend(options: { mqtt: { host: string; port: number }; credentials: string; databaseUrl: string; devices: number }): FleetBackend {
  return { mqtt: options.mqtt, devices: readFleetCredentials(options.credentials, options.devices), databaseUrl: options.databaseUrl, pids: () => ({}), dispose: async () => {} };
}

export function fleetDeviceIds(count: number, prefix = 'fleet'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(5, '0')}`);
}

export interface FleetRunOptions {
  backend: FleetBackend;
  /** How many of the backend's devices to run (default all). */
  devices?: number;
  durationSeconds: number;
  intervalSeconds: number;
  seed: number;
  workers: number;
  devicesPerRedis: number;
  /** Called about once a second with the fleet's figures. */
  onSnapshot?: (snapshot: FleetSnapshot, phase: 'starting' | 'measuring' | 'draining', elapsedSeconds: number) => void;
  onProgress?: (message: string) => void;
  /** Aborting stops the run early (Ctrl+C); the result then has `interrupted`. */
  signal?: AbortSignal;
  /** How long all devices may take to come up before measuring starts anyway. */
  rampTimeoutMs?: number;
  /** How long the backlog built up while coming up may take to be worked off before measuring starts anyway (default 60 s). */
  warmupTimeoutMs?: number;
  drainTimeoutMs?: number;
  logDir?: string;
}

/** Figures of a measured stretch of the run, every device up. */
export interface FleetRunResult {
  devices: number;
  /** Devices that were connected when measuring began. */
  connectedAtStart: number;
  rampSeconds: number;
  /** Seconds from every device up until the backlog of the ramp was worked off (or the warm-up timed out). */
  warmupSeconds: number;
  /** Whether that backlog was down to two readings per device when measuring began. */
  caughtUp: boolean;
  backlogAtStart: number;
  measuredSeconds: number;
  /** Readings confirmed to the devices during the measured stretch, per second. */
  committedPerSecond: number;
  recordedPerSecond: number;
  perDeviceRate: FleetSnapshot['perDeviceRate'];
  /** Measured → the device's cursor moved over it (after the receiver's commit and ack): an upper bound. */
  ackLatencyMs: LatencySummary | undefined;
  /** Measured → the receiver's received_at (taken before its transaction): a lower bound of the commit. */
  dbLatencyMs: LatencySummary | undefined;
  backlogMaxAtEnd: number;
  /** The fleet workers' event-loop delay while measuring (fleet.ts). */
  workerEventLoopDelayMs: { p99Median: number; max: number } | undefined;
  /** Mean share of a core over the measured stretch, and peak RSS over the run, per process group. */
  cpuCores: Record<string, number>;
  peakRssMb: Record<string, number>;
  /** The machine's 1-minute load average at the end of the measured stretch: other work on the machine shows here. */
  loadAverage: number;
  drained: boolean;
  checker: DeliveryReport | undefined;
  problems: Record<string, number>;
  failures: string[];
  interrupted: boolean;
}

/**
 * One fleet run: bring N devices up (at most a few logins at a time), let the backlog of the
 * ramp be worked off, measure for the given time, stop the sensors, wait until every recorded reading is
 * confirmed, run the checker on this run's boots, tear the fleet down.
 */
export async function runFleet(options: FleetRunOptions): Promise<FleetRunResult> {
  const devices = options.backend.devices.slice(0, options.devices ?? options.backend.devices.length);
  const progress = options.onProgress ?? (() => {});
  const started = Date.now();
  let fleet: Fleet | undefined;
  let meter: UsageMeter | undefined;
  let phase: 'starting' | 'measuring' | 'draining' = 'starting';
  const tick = setInterval(() => {
    if (fleet === undefined) return;
    meter?.sample();
    options.onSnapshot?.(fleet.snapshot(), phase, (Date.now() - started) / 1000);
  }, 1000);
  try {
    fleet = await Fleet.start({
      devices,
      mqtt: options.backend.mqtt,
      intervalSeconds: options.intervalSeconds,
      seed: options.seed,
      workers: options.workers,
      devicesPerRedis: options.devicesPerRedis,
      onProgress: progress,
      ...(options.logDir === undefined ? {} : { logDir: options.logDir }),
    });
    const f = fleet;
    meter = new UsageMeter(() => ({ fleet: f.workerPids, redis: f.redisPids, ...options.backend.pids() }));
    meter.sample();
    // Generous: on a busy machine the broker's password hashing paces the logins.
    const rampDeadline = Date.now() + (options.rampTimeoutMs ?? 120_000 + devices.length * 300);
    await until(() => f.snapshot().connected >= devices.length || f.snapshot().failures.length > 0 || Date.now() > rampDeadline, options.signal);
    const upAt = Date.now();
    // What the devices recorded while the others were logging in is a backlog, not the steady
    // state: measure once it is worked off (each device at most a couple of readings behind).
    const caughtUpBacklog = 2 * devices.length;
    const warmupDeadline = upAt + (options.warmupTimeoutMs ?? 60_000);
    await until(() => f.snapshot().backlog <= caughtUpBacklog || f.snapshot().failures.length > 0 || Date.now() > warmupDeadline, options.signal);
    const steady = { at: Date.now(), snapshot: f.snapshot() };
    const caughtUp = steady.snapshot.backlog <= caughtUpBacklog;
    phase = 'measuring';
    progress(
      `${steady.snapshot.connected}/${devices.length} devices up after ${((upAt - started) / 1000).toFixed(1)} s, ` +
        `backlog ${steady.snapshot.backlog} ${caughtUp ? 'worked off' : 'NOT worked off'} after ${((steady.at - upAt) / 1000).toFixed(1)} s more; measuring for ${options.durationSeconds} s`,
    );
    meter.mark();
    const end = steady.at + options.durationSeconds * 1000;
    await until(() => Date.now() >= end || f.snapshot().failures.length > 0, options.signal);
    const ended = { at: Date.now(), snapshot: f.snapshot() };
    const cpuCores = meter.sinceMark();
    const loadAverage = loadavg()[0]!;
    const seconds = (ended.at - steady.at) / 1000;
    const interrupted = options.signal?.aborted ?? false;
    phase = 'draining';
    const drained = interrupted ? false : await f.drain(options.drainTimeoutMs ?? 120_000);
    let checker: DeliveryReport | undefined;
    let dbLatencyMs: LatencySummary | undefined;
    if (!interrupted) {
      progress(drained ? 'every reading confirmed; running the checker' : 'not every reading was confirmed in time; running the checker anyway');
      const db = await openDatabase(parseDatabaseUrl(options.backend.databaseUrl), { migrate: false });
      try {
        const stored = await thisRunsRows(db, f);
        checker = checkDelivery(f.history, stored);
        dbLatencyMs = summarize(stored.filter((r) => r.measuredAt >= steady.at && r.measuredAt < ended.at).map((r) => r.receivedAt - r.measuredAt));
      } finally {
        await db.close();
      }
    }
    const last = f.snapshot();
    return {
      devices: devices.length,
      connectedAtStart: steady.snapshot.connected,
      rampSeconds: (upAt - started) / 1000,
      warmupSeconds: (steady.at - upAt) / 1000,
      caughtUp,
      backlogAtStart: steady.snapshot.backlog,
      measuredSeconds: seconds,
      committedPerSecond: (ended.snapshot.confirmed - steady.snapshot.confirmed) / seconds,
      recordedPerSecond: (ended.snapshot.recorded - steady.snapshot.recorded) / seconds,
      perDeviceRate: ended.snapshot.perDeviceRate,
      ackLatencyMs: f.latency.measuredBetween(steady.at, ended.at),
      dbLatencyMs,
      backlogMaxAtEnd: ended.snapshot.backlogMax,
      workerEventLoopDelayMs: f.eventLoopDelayBetween(steady.at, ended.at),
      cpuCores,
      peakRssMb: Object.fromEntries([...meter.peaks].map(([name, p]) => [name, Math.round(p.rssBytes / 2 ** 20)])),
      loadAverage,
      drained,
      checker,
      problems: last.problems,
      failures: last.failures,
      interrupted,
    };
  } finally {
    clearInterval(tick);
    await fleet?.dispose();
  }
}

/** The stored readings of the boots this run's devices recorded: earlier runs of the same ids are not this run's. */
async function thisRunsRows(db: Database, fleet: Fleet): Promise<StoredReading[]> {
  const boots = new Set(fleet.history.map((r) => r.bootId));
  const ids = [...new Set(fleet.options.devices.map((d) => d.id))];
  return (await storedReadings(db, ids)).filter((r) => boots.has(r.readingKey.slice(0, r.readingKey.indexOf(':'))));
}

async function until(done: () => boolean, signal: AbortSignal | undefined): Promise<void> {
  while (!done() && !(signal?.aborted ?? false)) await new Promise((resolve) => setTimeout(resolve, 200));
}
