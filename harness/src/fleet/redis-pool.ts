import { RedisServer } from '../processes/redis-server.ts';

/** The most devices one redis-server serves: a device's REDIS_DB is 0–15, as in Redis's default 16 databases. */
export const MAX_DEVICES_PER_REDIS = 16;
const STARTING_AT_ONCE = 8;

/**
 * Redis for a fleet: real redis-servers from the device's redis.conf, each serving up to
 * `devicesPerServer` devices, one database index per device. Every device thus sees exactly the
 * keys a device has (`measurement:values`, `measurement:enabled`, the uplink's cursor...), under
 * their own names, in its own keyspace, as on a Pi. A server's memory limit is the device's
 * (100 MB) times its devices, because they share one limit there.
 */
export class RedisPool {
  readonly servers: RedisServer[];
  private readonly devicesPerServer: number;

  private constructor(servers: RedisServer[], devicesPerServer: number) {
    this.servers = servers;
    this.devicesPerServer = devicesPerServer;
  }

  static async start(devices: number, devicesPerServer: number, onProgress: (message: string) => void = () => {}): Promise<RedisPool> {
    if (!Number.isInteger(devicesPerServer) || devicesPerServer < 1 || devicesPerServer > MAX_DEVICES_PER_REDIS) {
      throw new Error(`devices per redis-server must be 1–${MAX_DEVICES_PER_REDIS} (got ${devicesPerServer})`);
    }
    const count = Math.ceil(devices / devicesPerServer);
    const servers = Array.from(
      { length: count },
      () => new RedisServer({ overrides: { databases: String(Math.max(devicesPerServer, 16)), maxmemory: `${100 * devicesPerServer}mb` } }),
    );
    const pool = new RedisPool(servers, devicesPerServer);
    try {
      for (let i = 0; i < count; i += STARTING_AT_ONCE) {
        await Promise.all(servers.slice(i, i + STARTING_AT_ONCE).map((s) => s.start()));
        onProgress(`redis-servers: ${Math.min(count, i + STARTING_AT_ONCE)}/${count} up`);
      }
    } catch (error) {
      await pool.dispose();
      throw error;
    }
    return pool;
  }

  /** Where device number `index` (from 0) keeps its data. */
  placeOf(index: number): { host: string; port: number; db: number } {
    const server = this.servers[Math.floor(index / this.devicesPerServer)]!;
    return { host: server.host, port: server.port, db: index % this.devicesPerServer };
  }

  pids(): number[] {
    return this.servers.map((s) => s.pid).filter((pid): pid is number => pid !== undefined);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.dispose().catch(() => {})));
  }
}
