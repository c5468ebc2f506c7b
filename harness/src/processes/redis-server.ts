import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerProcess } from '../containers/container-process.ts';
import { IMAGES } from '../containers/images.ts';
import { findBinary, installHint } from './binaries.ts';
import { LocalServer, type LocalServerOptions, type ServiceInfo } from './local-server.ts';
import { ManagedProcess } from './managed-process.ts';
import type { ServerRun } from './server-run.ts';

/** The redis.conf every device runs; tests use it so they exercise the shipped settings. */
export const DEVICE_REDIS_CONF = fileURLToPath(new URL('../../../device/redis/redis.conf', import.meta.url));

export interface RedisServerOptions extends LocalServerOptions {
  /** Base config file; the device's redis.conf by default. */
  configFile?: string;
  /** Directives that replace the config file's, e.g. `{ maxmemory: '2mb' }`. */
  overrides?: Readonly<Record<string, string>>;
  readyTimeoutMs?: number;
}

const REDIS_SERVICE: ServiceInfo = {
  binary: 'redis-server',
  image: IMAGES.redis,
  installed: () => findBinary('redis-server') !== undefined,
  installHint: () => installHint('redis-server', 'install Redis 7 or newer'),
};

/** Where the official image keeps its data: the server's directory is bind-mounted there. */
const CONTAINER_DATA = '/data';
const CONFIG_NAME = 'redis-under-test.conf';

/**
 * A real redis-server on loopback, in its own directory, started from the device's redis.conf.
 * Never touches a Redis on the standard port. `kill()` + `start()` on the same handle simulates a
 * crash and restart with the data on disk. As a container, the directory is the image's /data, so
 * the AOF stays in `dir` for the power-cut fault (faults/power-cut.ts) either way.
 */
export class RedisServer extends LocalServer {
  protected readonly displayName = 'redis-server';
  protected readonly service = REDIS_SERVICE;
  private readonly options: RedisServerOptions;

  constructor(options: RedisServerOptions = {}) {
    super('redis', options);
    this.options = options;
  }

  protected ready(port: number, proc: ServerRun): Promise<void> {
    return waitUntilReady(this.host, port, proc, this.options.readyTimeoutMs ?? 15_000);
  }

  protected portTaken(output: string): boolean {
    return output.includes('Address already in use');
  }

  protected spawn(port: number): ManagedProcess {
    const configPath = this.writeConfig({ port: String(port), bind: this.host, dir: this.dir, logfile: '""', daemonize: 'no', ...this.options.overrides });
    const command = findBinary('redis-server') ?? 'redis-server';
    return new ManagedProcess({ name: `redis-server:${port}`, command, args: [configPath], cwd: this.dir, logFile: join(this.dir, 'redis.log') });
  }

  protected spawnContainer(port: number): ContainerProcess {
    const overrides: Record<string, string> = {
      port: '6379',
      // Every interface of the container: the engine forwards the host's 127.0.0.1 port to it,
      // from outside the container's loopback, which protected mode would refuse.
      bind: '0.0.0.0 -::',
      'protected-mode': 'no',
      dir: CONTAINER_DATA,
      logfile: '""',
      daemonize: 'no',
      ...this.options.overrides,
    };
    // Paths in the server's directory (say, a unixsocket) are where the bind mount shows them.
    for (const [name, value] of Object.entries(overrides)) {
      if (value === this.dir || value.startsWith(`${this.dir}/`)) overrides[name] = CONTAINER_DATA + value.slice(this.dir.length);
    }
    this.writeConfig(overrides);
    return new ContainerProcess({
      name: `redis-server:${port}`,
      image: this.service.image,
      service: 'redis',
      command: ['redis-server', `${CONTAINER_DATA}/${CONFIG_NAME}`],
      binds: [{ source: this.dir, target: CONTAINER_DATA }],
      publish: { containerPort: 6379, hostPort: port },
      logFile: join(this.dir, 'redis.log'),
    });
  }

  /** Writes the base config with `overrides` replacing its lines; @returns the file's path. */
  private writeConfig(overrides: Readonly<Record<string, string>>): string {
    // Redis checks `dir` while reading the file (it chdirs), so the device's `dir /data` cannot be
    // overridden on the command line: write the device config with our overrides replacing its lines.
    const base = readFileSync(this.options.configFile ?? DEVICE_REDIS_CONF, 'utf8');
    const kept = base.split('\n').filter((line) => !(line.trim().split(/\s+/)[0]! in overrides));
    const configPath = join(this.dir, CONFIG_NAME);
    writeFileSync(configPath, [...kept, ...Object.entries(overrides).map(([name, value]) => `${name} ${value}`), ''].join('\n'));
    return configPath;
  }
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  return new RedisServer(options).start();
}

/** PING until PONG: redis answers -LOADING while it replays the AOF, which is not ready. */
async function waitUntilReady(host: string, port: number, proc: ServerRun, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`redis-server exited during start-up\n${proc.tail()}`);
    if (await redisPing(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} not ready after ${timeoutMs} ms\n${proc.tail()}`);
}

/** Whether a Redis answers PING with PONG at host:port within a second. */
export function redisPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    // A container's published port accepts before Redis listens, then closes: no error, no timeout.
    socket.once('close', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
