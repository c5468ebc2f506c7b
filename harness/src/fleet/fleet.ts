import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordedReading } from '../checker/delivery-checker.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { LatencyLog } from './latency-log.ts';
import type { DeviceSpec, FromWorker, ToWorker, WorkerStats } from './messages.ts';
import { RedisPool } from './redis-pool.ts';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
const STOP_TIMEOUT_MS = 30_000;
/** Rates are over this window; it also bounds how far back the live latency percentiles look. */
const WINDOW_MS = 10_000;

export interface FleetDevice {
  id: string;
  username: string;
  password: string;
}

export interface FleetOptions {
  devices: readonly FleetDevice[];
  mqtt: { host: string; port: number };
  intervalSeconds: number;
  seed: number;
  /** Worker processes the devices are spread over. */
  workers: number;
  /** Devices per redis-server, 1–16 (redis-pool.ts). */
  devicesPerRedis: number;
  /** Logins in progress at once per worker while the fleet comes up. */
  connectConcurrency?: number;
  onProgress?: (message: string) => void;
  /**
   * Keep what the checker and the final figures need: every recorded reading and every
   * confirmation's latency (default). `false` keeps only the last seconds, so a fleet that runs
   * for days (`npm start`) stays in bounded memory.
   */
  retainHistory?: boolean;
  /** Where the workers write their devices' warnings and errors (worker-N.log); the fleet's temp dir, removed at the end, by default. */
  logDir?: string;
}

/** The fleet's figures at one moment. */
export interface FleetSnapshot {
  devices: number;
  started: number;
  connected: number;
  recorded: number;
  confirmed: number;
  backlog: number;
  backlogMax: number;
  /** Confirmed readings per second over the last window, the fleet's and one device's (min, median, max). */
  fleetRate: number;
  perDeviceRate: { min: number; median: number; max: number };
  /** Measured-to-confirmed latency of the readings confirmed in the last window, ms. */
  latencyMs: { p50: number; p95: number; p99: number; max: number; count: number } | undefined;
  problems: Record<string, number>;
  failures: string[];
}

/**
 * N virtual devices in a few worker processes (worker.ts), with their Redis data in a pool of
 * redis-servers (redis-pool.ts), against a broker given by address. It keeps what the workers
 * report: the history for the checker, every confirmation's latency, rates and backlog.
 */
export class Fleet {
  readonly dir = makeTempDir('fleet');
  readonly latency = new LatencyLog();
  readonly history: RecordedReading[] = [];
  private readonly stats = new Map<number, WorkerStats>();
  private readonly children: ChildProcess[] = [];
  private readonly exited = new Map<number, Promise<void>>();
  private readonly failures: string[] = [];
  private readonly samples: { at: number; confirmed: number; perDevice: Map<number, number[]> }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly sensorsStopped = new Set<number>();
  private readonly loopDelays: { at: number; p99: number; max: number }[] = [];
  private pool: RedisPool | undefined;
  private disposed = false;

  readonly options: FleetOptions;

  private constructor(options: FleetOptions) {
    this.options = options;
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  static async start(options: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(options);
    try {
      await fleet.launch();
    } catch (error) {
      await fleet.dispose();
      throw error;
    }
    return fleet;
  }

  get redisPids(): number[] {
    return this.pool?.pids() ?? [];
  }

  /** Where device number `index` keeps its Redis data. */
  placeOf(index: number): { host: string; port: number; db: number } {
    if (this.pool === undefined) throw new Error('the fleet has not started');
    return this.pool.placeOf(index);
  }

  get workerPids(): number[] {
    return this.children.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  }

  private async launch(): Promise<void> {
    const options = this.options;
    const devices = options.devices;
    const progress = options.onProgress ?? (() => {});
    this.pool = await RedisPool.start(devices.length, options.devicesPerRedis, progress);
    const specs: DeviceSpec[] = devices.map((d, index) => ({
      id: d.id,
      index,
      redis: this.pool!.placeOf(index),
      mqtt: { ...options.mqtt, username: d.username, password: d.password },
    }));
    const logDir = options.logDir ?? this.dir.path;
    mkdirSync(logDir, { recursive: true });
    const workers = Math.max(1, Math.min(options.workers, specs.length));
    const share = Math.ceil(specs.length / workers);
    for (let w = 0; w < workers; w++) {
      const child = fork(WORKER_ENTRY, [], {
        serialization: 'advanced',
        // Its own process group: a Ctrl+C on the terminal reaches the fleet, which stops the devices in order.
        detached: true,
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        execArgv: [],
      });
      this.children.push(child);
      // 'close' comes after the last IPC message was read, 'exit' may come before.
      this.exited.set(w, new Promise((resolve) => child.once('close', () => resolve())));
      child.on('message', (message: FromWorker) => this.receive(message));
      child.once('exit', (code, signal) => {
        if (!this.disposed) this.failures.push(`worker ${w} exited (${signal ?? `code ${code}`}) while the fleet ran`);
      });
      const message: ToWorker = {
        type: 'start',
        worker: w,
        devices: specs.slice(w * share, (w + 1) * share),
        intervalSeconds: options.intervalSeconds,
        seed: options.seed,
        connectConcurrency: options.connectConcurrency ?? 8,
        logFile: join(logDir, `worker-${w}.log`),
      };
      child.send(message);
    }
  }

  private receive(message: FromWorker): void {
    if (message.type === 'failed') {
      this.failures.push(`worker ${message.worker}: ${message.message}`);
      return;
    }
    if (message.type === 'sensors-stopped') {
      this.sensorsStopped.add(message.worker);
      return;
    }
    if (message.type !== 'stats') return;
    this.stats.set(message.worker, message);
    const now = Date.now();
    this.latency.add(message.measuredAt, message.latencyMs, now);
    this.loopDelays.push({ at: now, ...message.eventLoopDelayMs });
    if (this.options.retainHistory === false) {
      this.latency.dropBefore(now - WINDOW_MS);
      while (this.loopDelays.length > 0 && this.loopDelays[0]!.at < now - WINDOW_MS) this.loopDelays.shift();
    } else {
      for (const r of message.history) this.history.push(r);
    }
  }

  private sample(): void {
    const perDevice = new Map([...this.stats].map(([w, s]) => [w, s.confirmedPerDevice]));
    const at = performance.now();
    this.samples.push({ at, confirmed: [...this.stats.values()].reduce((total, s) => total + s.confirmed, 0), perDevice });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - WINDOW_MS) this.samples.shift();
  }

  snapshot(): FleetSnapshot {
    const all = [...this.stats.values()];
    const sum = (pick: (s: WorkerStats) => number) => all.reduce((total, s) => total + pick(s), 0);
    const problems: Record<string, number> = {};
    for (const s of all) for (const [event, n] of Object.entries(s.problems)) problems[event] = (problems[event] ?? 0) + n;
    const first = this.samples[0];
    const last = this.samples.at(-1);
    let fleetRate = 0;
    let perDeviceRate = { min: 0, median: 0, max: 0 };
    if (first !== undefined && last !== undefined && last.at > first.at) {
      const seconds = (last.at - first.at) / 1000;
      fleetRate = (last.confirmed - first.confirmed) / seconds;
      // Per worker: a worker that had not reported yet, or started more devices since, has no rate for the new ones.
      const rates: number[] = [];
      for (const [w, now] of last.perDevice) {
        const then = first.perDevice.get(w);
        if (then === undefined) continue;
        for (let i = 0; i < then.length; i++) rates.push((now[i]! - then[i]!) / seconds);
      }
      rates.sort((a, b) => a - b);
      if (rates.length > 0) perDeviceRate = { min: rates[0]!, median: rates[Math.floor(rates.length / 2)]!, max: rates.at(-1)! };
    }
    return {
      devices: this.options.devices.length,
      started: sum((s) => s.started),
      connected: sum((s) => s.connected),
      recorded: sum((s) => s.recorded),
      confirmed: sum((s) => s.confirmed),
      backlog: sum((s) => s.backlog),
      backlogMax: Math.max(0, ...all.map((s) => s.backlogMax)),
      fleetRate,
      perDeviceRate,
      latencyMs: this.latency.confirmedSince(Date.now() - WINDOW_MS),
      problems,
      failures: [...this.failures],
    };
  }

  /** The workers' event-loop delay over [from, to) (epoch ms): the median of their per-second p99s, and the largest delay. */
  eventLoopDelayBetween(from: number, to: number): { p99Median: number; max: number } | undefined {
    const inside = this.loopDelays.filter((d) => d.at >= from && d.at < to);
    if (inside.length === 0) return undefined;
    const p99s = inside.map((d) => d.p99).sort((a, b) => a - b);
    return { p99Median: Math.round(p99s[Math.floor(p99s.length / 2)]!), max: Math.round(Math.max(...inside.map((d) => d.max))) };
  }

  /** Stops every sensor (each writes its shutdown marker); the uplinks go on sending. */
  stopSensors(): void {
    for (const child of this.children) if (child.connected) child.send({ type: 'stop-sensors' } satisfies ToWorker);
  }

  /**
   * Stops every sensor and waits until every reading they recorded is confirmed (the checker's
   * precondition); false when `timeoutMs` passes first or a worker failed.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.stopSensors();
    const deadline = Date.now() + timeoutMs;
    const everyWorker = () => this.children.every((_, w) => this.sensorsStopped.has(w));
    while (Date.now() < deadline && this.failures.length === 0) {
      // Stats sent after 'sensors-stopped' include the shutdown's last readings.
      if (everyWorker()) {
        const s = this.snapshot();
        if (s.backlog === 0 && s.recorded === s.confirmed) return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
  }

  /** Stops every device, the workers and the redis-servers, and removes the temp dir. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.timer);
    await Promise.all(
      this.children.map(async (child, w) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await this.exited.get(w);
        clearTimeout(killer);
      }),
    );
    await this.pool?.dispose();
    this.dir.remove();
  }
}
