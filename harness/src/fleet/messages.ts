import type { RecordedReading } from '../checker/delivery-checker.ts';

/** What a fleet worker needs to run one virtual device. */
export interface DeviceSpec {
  id: string;
  /** Index in the fleet: seeds the simulated chips' noise. */
  index: number;
  redis: { host: string; port: number; db: number };
  mqtt: { host: string; port: number; username: string; password: string };
}

export interface WorkerStart {
  type: 'start';
  worker: number;
  devices: DeviceSpec[];
  intervalSeconds: number;
  seed: number;
  /** Devices of this worker that may be logging in to the broker at once (its hash gate queues the rest). */
  connectConcurrency: number;
  /** Warnings and errors of this worker's devices go here, one JSON line each. */
  logFile: string;
}

/** Main → worker. */
export type ToWorker = WorkerStart | { type: 'stop-sensors' } | { type: 'stop' };

/** One worker's figures since its previous report. */
export interface WorkerStats {
  type: 'stats';
  worker: number;
  /** Devices built and started. */
  started: number;
  /** Devices whose uplink is connected now. */
  connected: number;
  /** Since the start, over this worker's devices. */
  recorded: number;
  confirmed: number;
  /** Per device, in the order of the start message: readings confirmed so far. */
  confirmedPerDevice: number[];
  /** Readings recorded and not yet confirmed, summed, and the largest of one device. */
  backlog: number;
  backlogMax: number;
  /**
   * Readings confirmed since the last report: when each was measured and how long until the
   * device learnt it was committed (the cursor moved over it), in ms.
   */
  measuredAt: number[];
  latencyMs: number[];
  /** The readings recorded since the last report, for the checker. */
  history: RecordedReading[];
  /**
   * How late this worker's event loop ran timers since the last report (ms, p99 and max): when
   * it nears the latencies, the fleet process itself is what delays the devices.
   */
  eventLoopDelayMs: { p99: number; max: number };
  /** Warnings and errors since the start, by event. */
  problems: Record<string, number>;
}

/** Worker → main. */
export type FromWorker =
  | WorkerStats
  | { type: 'sensors-stopped'; worker: number }
  | { type: 'stopped'; worker: number } | { type: 'failed'; worker: number; message: string };
