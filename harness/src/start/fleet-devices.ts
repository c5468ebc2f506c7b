import type { BackendStack } from '../harness/backend-stack.ts';
import { Fleet } from '../fleet/fleet.ts';

/**
 * `npm start` with more devices than one process each can hold: virtual devices with the full
 * device logic, many per worker process, their Redis data 16 to a redis-server under the original
 * keys (docs/fleet-simulator.md §2, §3). What it keeps for the checker is not needed here, so
 * it is dropped as it comes, and memory stays flat however long the system runs.
 */
export class FleetDevices {
  private readonly fleet: Fleet;

  private constructor(fleet: Fleet) {
    this.fleet = fleet;
  }

  static async start(stack: BackendStack, ids: readonly string[], intervalSeconds: number, progress: (line: string) => void): Promise<FleetDevices> {
    const fleet = await Fleet.start({
      devices: ids.map((id) => ({ id, ...stack.login(id) })),
      mqtt: { host: '127.0.0.1', port: stack.brokerPort },
      intervalSeconds,
      seed: 1,
      workers: 2,
      devicesPerRedis: 16,
      retainHistory: false,
      onProgress: progress,
    });
    return new FleetDevices(fleet);
  }

  /** A few lines about where the devices are. */
  describe(ids: readonly string[]): string[] {
    const shown = ids.slice(0, 3).map((id, i) => {
      const place = this.fleet.placeOf(i);
      return `    ${id}   Redis 127.0.0.1:${place.port} database ${place.db}`;
    });
    return [...shown, `    … ${ids.length - shown.length} more, 16 to a redis-server, in ${this.fleet.workerPids.length} worker processes (pids ${this.fleet.workerPids.join(', ')})`];
  }

  /** How to look at the first device's readings. */
  redisCli(): string {
    const place = this.fleet.placeOf(0);
    return `redis-cli -p ${place.port} -n ${place.db} XREVRANGE measurement:values + - COUNT 3`;
  }

  progressLine(): string {
    const s = this.fleet.snapshot();
    const latency = s.latencyMs === undefined ? 'n/a' : `p50 ${s.latencyMs.p50.toFixed(0)} ms, p99 ${s.latencyMs.p99.toFixed(0)} ms`;
    const problems = Object.entries(s.problems)
      .map(([event, n]) => `${event} ${n}`)
      .join(', ');
    const failures = s.failures.length === 0 ? '' : `; FAILED: ${s.failures.join('; ')}`;
    return `fleet: ${s.connected}/${s.devices} connected, ${s.recorded} recorded, ${s.confirmed} confirmed, backlog ${s.backlog}, ${s.fleetRate.toFixed(0)} readings/s, ack latency ${latency}${problems === '' ? '' : `; warnings: ${problems}`}${failures}`;
  }

  /** Stops every device (sensors write their shutdown markers), the workers and the redis-servers. */
  stop(): Promise<void> {
    return this.fleet.dispose();
  }
}
