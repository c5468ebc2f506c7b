import { closeSync, openSync, writeSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordedReading } from '../checker/delivery-checker.ts';
import { DeviceObserver } from './device-observer.ts';
import type { FromWorker, ToWorker, WorkerStart, WorkerStats } from './messages.ts';
import { VirtualDevice } from './virtual-device.ts';

/**
 * A fleet worker process: runs its share of the virtual devices and reports their figures to the
 * fleet (fleet.ts) once a second over IPC. It ignores SIGINT and SIGTERM, because a Ctrl+C
 * reaches the whole process group and the fleet must stop the devices in order; it exits when
 * told to stop or when the fleet's process goes away.
 */
const REPORT_MS = 1000;
const CONNECT_WAIT_MS = 30_000;
let stopping = false;

if (process.send === undefined) {
  process.stderr.write('harness/src/fleet/worker.ts is started by the fleet (npm run fleet), not by hand\n');
  process.exit(2);
}
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.exit(1));

function send(message: FromWorker, then?: () => void): void {
  process.send!(message, undefined, undefined, () => then?.());
}

let state: { start: WorkerStart; devices: VirtualDevice[]; timer: NodeJS.Timeout; flush: () => void; logFd: number } | undefined;

const sink = {
  history: [] as RecordedReading[],
  measuredAt: [] as number[],
  latencyMs: [] as number[],
  problems: {} as Record<string, number>,
  logFd: -1,
  problem(event: string, line: string): void {
    // A stopping device's connections going down is what stopping is, not a problem of the run.
    if (!stopping) this.problems[event] = (this.problems[event] ?? 0) + 1;
    if (this.logFd >= 0) writeSync(this.logFd, line);
  },
};

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function report(): void {
  if (state === undefined) return;
  const { start, devices } = state;
  let connected = 0;
  let recorded = 0;
  let confirmed = 0;
  let backlog = 0;
  let backlogMax = 0;
  for (const d of devices) {
    const o = d.observer;
    if (o.connected) connected++;
    recorded += o.recorded;
    confirmed += o.confirmed;
    backlog += o.backlog;
    backlogMax = Math.max(backlogMax, o.backlog);
  }
  const stats: WorkerStats = {
    type: 'stats',
    worker: start.worker,
    started: devices.length,
    connected,
    recorded,
    confirmed,
    confirmedPerDevice: devices.map((d) => d.observer.confirmed),
    backlog,
    backlogMax,
    measuredAt: sink.measuredAt.splice(0),
    latencyMs: sink.latencyMs.splice(0),
    history: sink.history.splice(0),
    eventLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    problems: { ...sink.problems },
  };
  loopDelay.reset();
  send(stats);
}

async function startDevices(start: WorkerStart): Promise<void> {
  const logFd = openSync(start.logFile, 'a');
  sink.logFd = logFd;
  const devices: VirtualDevice[] = [];
  state = { start, devices, timer: setInterval(report, REPORT_MS), flush: report, logFd };
  // A few logins at a time: the broker hashes passwords a few at once and refuses logins beyond its queue.
  let next = 0;
  const lane = async () => {
    while (next < start.devices.length && !stopping) {
      const spec = start.devices[next++]!;
      const device = new VirtualDevice(spec, { intervalSeconds: start.intervalSeconds, seed: start.seed }, new DeviceObserver(spec.id, sink));
      devices.push(device);
      await device.start();
      // A device the broker keeps refusing goes on retrying by itself; the others need not wait for it.
      await Promise.race([device.observer.whenConnected(), sleep(CONNECT_WAIT_MS, undefined, { ref: false })]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, start.connectConcurrency) }, lane));
}

async function stopDevices(): Promise<void> {
  stopping = true;
  if (state === undefined) return;
  const { devices, timer, logFd } = state;
  await Promise.all(devices.map((d) => d.stop()));
  clearInterval(timer);
  report();
  closeSync(logFd);
  sink.logFd = -1;
}

process.on('message', (message: ToWorker) => {
  const fail = (error: unknown) => send({ type: 'failed', worker: state?.start.worker ?? -1, message: (error as Error).message ?? String(error) });
  if (message.type === 'start') {
    startDevices(message).catch(fail);
  } else if (message.type === 'stop-sensors') {
    Promise.all((state?.devices ?? []).map((d) => d.stopSensor()))
      .then(() => {
        report();
        send({ type: 'sensors-stopped', worker: state?.start.worker ?? -1 });
      })
      .catch(fail);
  } else if (message.type === 'stop') {
    stopDevices()
      .then(() => send({ type: 'stopped', worker: state?.start.worker ?? -1 }, () => process.exit(0)))
      .catch(fail);
  }
});
