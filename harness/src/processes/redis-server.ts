import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalServer, type LocalServerOptions } from './local-server.ts';
import { ManagedProcess } from './managed-process.ts';

/** The redis.conf every device runs; tests use it so they exercise the shipped settings. */
export const DEVICE_REDIS_CONF = fileURLToPath(new URL('../../../device/redis/redis.conf', import.meta.url));

export interface RedisServerOptions extends LocalServerOptions {
  /** Base config file; the device's redis.conf by default. */
  configFile?: string;
  /** Directives that replace the config file's, e.g. `{ maxmemory: '2mb' }`. */
  overrides?: Readonly<Record<string, string>>;
  readyTimeoutMs?: number;
}

/**
 * A real redis-server on loopback, in its own directory, started from the device's redis.conf.
 * Never touches a Redis on the standard port. `kill()` + `start()` on the same handle simulates a
 * crash and restart with the data on disk.
 */
export class RedisServer extends LocalServer {
  protected readonly displayName = 'redis-server';
  private readonly options: RedisServerOptions;

  constructor(options: RedisServerOptions = {}) {
    super('redis', options);
    this.options = options;
  }

  override async start(): Promise<this> {
    assertRedisInstalled();
    return super.start();
  }

  protected ready(port: number, proc: ManagedProcess): Promise<void> {
    return waitUntilReady(this.host, port, proc, this.options.readyTimeoutMs ?? 15_000);
  }

  protected portTaken(output: string): boolean {
    return output.includes('Address already in use');
  }

  protected spawn(port: number): ManagedProcess {
    const overrides: Record<string, string> = {
      port: String(port),
      bind: this.host,
      dir: this.dir,
      logfile: '""',
      daemonize: 'no',
      ...this.options.overrides,
    };
    // Redis checks `dir` while reading the file (it chdirs), so the device's `dir /data` cannot be
    // overridden on the command line: write the device config with our overrides replacing its lines.
    const base = readFileSync(this.options.configFile ?? DEVICE_REDIS_CONF, 'utf8');
    const kept = base.split('\n').filter((line) => !(line.trim().split(/\s+/)[0]! in overrides));
    const configPath = join(this.dir, 'redis-under-test.conf');
    writeFileSync(configPath, [...kept, ...Object.entries(overrides).map(([name, value]) => `${name} ${value}`), ''].join('\n'));
    return new ManagedProcess({ name: `redis-server:${port}`, command: 'redis-server', args: [configPath], cwd: this.dir, logFile: join(this.dir, 'redis.log') });
  }
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  return new RedisServer(options).start();
}

let redisChecked = false;
function assertRedisInstalled(): void {
  if (redisChecked) return;
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    redisChecked = true;
  } catch {
    const hint = existsSync('/usr/bin/apt-get') ? 'install it with: sudo apt-get install redis-server' : 'install Redis 7 or newer';
    throw new Error(`redis-server was not found on PATH; ${hint}`);
  }
}

/** PING until PONG: redis answers -LOADING while it replays the AOF, which is not ready. */
async function waitUntilReady(host: string, port: number, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`redis-server exited during start-up\n${proc.tail()}`);
    if (await ping(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} not ready after ${timeoutMs} ms\n${proc.tail()}`);
}

function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
