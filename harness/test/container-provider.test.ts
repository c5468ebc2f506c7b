import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, connect as connectTcp, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Redis } from 'ioredis';
import { connect as connectMqtt } from 'mqtt';
import { createConnection } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { PID_LABEL, RUN_LABEL, runId, SERVICE_LABEL } from '../src/containers/cleanup.ts';
import { engine, engineStatus } from '../src/containers/engine.ts';
import { chooseBackend, SERVICES_ENV, servicesProviderFromEnv } from '../src/containers/provider.ts';
import { findBinary } from '../src/processes/binaries.ts';
import { MariaDbServer } from '../src/processes/mariadb-server.ts';
import { MosquittoServer } from '../src/processes/mosquitto-server.ts';
import { RedisServer } from '../src/processes/redis-server.ts';
import { makeTempDir } from '../src/processes/temp-dir.ts';
import { eventually } from '../src/testing/log-capture.ts';

// Run by vitest.config.ts too: there, without a Docker engine, only the parts that need none run.
const docker = await engineStatus();

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `body` with `name` set to `value` in this process's env, then puts it back. */
async function withEnv<T>(name: string, value: string, body: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

describe('IOT_TEST_SERVICES', () => {
  it('is auto when unset or empty, else exactly processes, containers or auto', () => {
    expect(servicesProviderFromEnv({})).toBe('auto');
    expect(servicesProviderFromEnv({ [SERVICES_ENV]: ' ' })).toBe('auto');
    for (const value of ['processes', 'containers', 'auto']) expect(servicesProviderFromEnv({ [SERVICES_ENV]: value })).toBe(value);
  });

  it('refuses anything else with an error that lists the choices', () => {
    expect(() => servicesProviderFromEnv({ [SERVICES_ENV]: 'docker' })).toThrow('IOT_TEST_SERVICES must be one of processes, containers, auto (got "docker")');
    expect(() => servicesProviderFromEnv({ [SERVICES_ENV]: 'Containers' })).toThrow(/got "Containers"/);
  });

  it('makes a server refuse to start, before it runs anything', async () => {
    const redis = new RedisServer();
    cleanups.push(() => redis.dispose());
    await withEnv(SERVICES_ENV, 'podman', async () => {
      await expect(redis.start()).rejects.toThrow('IOT_TEST_SERVICES must be one of processes, containers, auto (got "podman")');
    });
    expect(redis.running).toBe(false);
    expect(redis.provider).toBeUndefined();
  });
});

describe('choosing processes or containers', () => {
  const redis = { binary: 'redis-server', installHint: 'install it with: sudo apt-get install redis-server', image: 'redis:7-bookworm' };
  const noDocker = async () => ({ ok: false as const, reason: 'connect ENOENT /var/run/docker.sock' });
  const notAsked = async (): Promise<never> => {
    throw new Error('asked for a Docker engine');
  };

  it('auto and processes take the installed binary without asking for Docker', async () => {
    expect(await chooseBackend('auto', { ...redis, binaryFound: true }, notAsked)).toBe('processes');
    expect(await chooseBackend('processes', { ...redis, binaryFound: true }, notAsked)).toBe('processes');
  });

  it('processes refuses a missing binary, saying how to install it and that Docker would do', async () => {
    await expect(chooseBackend('processes', { ...redis, binaryFound: false }, notAsked)).rejects.toThrow(
      /^IOT_TEST_SERVICES=processes: redis-server was not found on PATH; install it with: sudo apt-get install redis-server, or run it in Docker: .*the image redis:7-bookworm/,
    );
  });

  it('auto without the binary and without Docker names both ways out', async () => {
    await expect(chooseBackend('auto', { ...redis, binaryFound: false }, noDocker)).rejects.toThrow(
      /redis-server was not found on PATH; install it with: sudo apt-get install redis-server, or run it in Docker.*\(no Docker engine answers either: connect ENOENT \/var\/run\/docker.sock\)/,
    );
  });

  it('containers without Docker says to start one, or to use the installed binary', async () => {
    await expect(chooseBackend('containers', { ...redis, binaryFound: true }, noDocker)).rejects.toThrow(
      'IOT_TEST_SERVICES=containers, but no Docker engine answers (connect ENOENT /var/run/docker.sock); start Docker (or point DOCKER_HOST at one), or set IOT_TEST_SERVICES=processes to use the installed redis-server',
    );
  });

  it.skipIf(!docker.ok)('auto without the binary and containers with it take a container when Docker answers', async () => {
    expect(await chooseBackend('auto', { ...redis, binaryFound: false })).toBe('containers');
    expect(await chooseBackend('containers', { ...redis, binaryFound: true })).toBe('containers');
  });

  it.skipIf(findBinary('redis-server') === undefined)('auto runs the installed redis-server as a process', async () => {
    const server = new RedisServer({ provider: 'auto' });
    cleanups.push(() => server.dispose());
    await server.start();
    expect(server.provider).toBe('processes');
    if (docker.ok) expect(await containersOn(server.port)).toEqual([]);
  });
});

/** The containers of this run that publish `port`, inspected. */
async function containersOn(port: number) {
  const client = await engine();
  const listed = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId()}`] } });
  const mine = listed.filter((c) => c.Ports.some((p) => p.PublicPort === port));
  return Promise.all(mine.map((c) => client.container.dockerode.getContainer(c.Id).inspect()));
}

/** Whether a Redis answers PING at host:port; a refused, reset or silent connection is a no. */
function pingAt(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(3000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/** This host's addresses other than loopback (its LAN address, Docker's bridge): where a 0.0.0.0 port would answer. */
function outsideAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

/** State letter of a process from /proc (T: stopped by a signal). */
function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0]!;
}

describe.skipIf(!docker.ok)('servers as containers', () => {
  it('auto runs a container when the binary is not on PATH', async () => {
    const empty = makeTempDir('no-binaries');
    cleanups.push(() => empty.remove());
    const redis = new RedisServer({ provider: 'auto' });
    cleanups.push(() => redis.dispose());
    await withEnv('PATH', empty.path, () => redis.start());
    expect(redis.provider).toBe('containers');
    expect(await pingAt(redis.host, redis.port)).toBe(true);
  });

  it('publishes on 127.0.0.1 only, labels the container, replaces it after a crash and removes it on dispose', async () => {
    const redis = new RedisServer({ provider: 'containers' });
    cleanups.push(() => redis.dispose());
    await redis.start();
    const [first, ...others] = await containersOn(redis.port);
    expect(others).toEqual([]);
    expect(first?.Config.Image).toBe('redis:7-bookworm');
    expect(first?.Config.Labels).toMatchObject({ [RUN_LABEL]: runId(), [PID_LABEL]: String(process.pid), [SERVICE_LABEL]: 'redis' });
    expect(first?.HostConfig.PortBindings).toEqual({ '6379/tcp': [{ HostIp: '127.0.0.1', HostPort: String(redis.port) }] });
    expect(first?.Mounts).toEqual([expect.objectContaining({ Type: 'bind', Source: redis.dir, Destination: '/data' })]);
    expect(await pingAt('127.0.0.1', redis.port)).toBe(true);
    for (const address of outsideAddresses()) expect(await pingAt(address, redis.port), address).toBe(false);

    const client = new Redis({ host: redis.host, port: redis.port, retryStrategy: () => 50 });
    client.on('error', () => {});
    cleanups.push(() => client.disconnect());
    await client.set('kept', 'across the crash');
    await redis.kill();
    expect(redis.running).toBe(false);
    expect(await containersOn(redis.port)).toEqual([]);

    await redis.start();
    const [second] = await containersOn(redis.port);
    expect(second?.Id).not.toBe(first?.Id);
    expect(await client.get('kept')).toBe('across the crash');

    await redis.dispose();
    expect(await containersOn(redis.port)).toEqual([]);
    expect(existsSync(redis.dir)).toBe(false);
  });

  it('refuses a fixed port another process holds, saying so, and leaves no container', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
    const port = (holder.address() as AddressInfo).port;
    const redis = new RedisServer({ provider: 'containers', port });
    cleanups.push(() => redis.dispose());
    await expect(redis.start()).rejects.toThrow(/address already in use|port is already allocated/);
    expect(redis.running).toBe(false);
    expect(await containersOn(port)).toEqual([]);
  });

  it('stops cleanly (Redis saves its snapshot) where kill does not', async () => {
    const killed = new RedisServer({ provider: 'containers' });
    const stopped = new RedisServer({ provider: 'containers' });
    cleanups.push(() => killed.dispose(), () => stopped.dispose());
    await Promise.all([killed.start(), stopped.start()]);
    await killed.kill();
    await stopped.stop();
    expect(existsSync(`${killed.dir}/dump.rdb`)).toBe(false);
    expect(existsSync(`${stopped.dir}/dump.rdb`)).toBe(true);
    expect(stopped.output()).toMatch(/ready to exit, bye bye/);
  });

  it('freezes and thaws the server in its container as SIGSTOP and SIGCONT do a process', async () => {
    const redis = new RedisServer({ provider: 'containers' });
    cleanups.push(() => redis.dispose());
    await redis.start();
    const pid = redis.pid!;
    expect(processState(pid)).not.toBe('T');
    // A signal takes effect when the kernel next schedules the process: wait for the state.
    redis.freeze();
    await eventually(() => processState(pid) === 'T', 5000, 'the server stopped');
    expect(await pingAt(redis.host, redis.port)).toBe(false);
    redis.thaw();
    await eventually(() => processState(pid) !== 'T', 5000, 'the server running again');
    expect(await pingAt(redis.host, redis.port)).toBe(true);
  });

  it('runs MariaDB with the process options, keeping data and port across kill and start', async () => {
    const db = new MariaDbServer({ provider: 'containers', database: 'plant', extraArgs: ['--max-connections=20'] });
    cleanups.push(() => db.dispose());
    await db.start();
    const open = () => createConnection({ host: db.host, port: db.port, user: 'root', database: 'plant' });
    const before = await open();
    const [settings] = await before.query('SELECT @@character_set_server AS charset, @@max_connections AS max, @@innodb_buffer_pool_size AS pool');
    expect(settings).toEqual([{ charset: 'utf8mb4', max: 20, pool: 32 * 1024 * 1024 }]);
    await before.query('CREATE TABLE t (x INT) ENGINE=InnoDB');
    await before.query('INSERT INTO t VALUES (1), (2)');
    await before.end();
    expect(existsSync(`${db.dataDir}/plant`)).toBe(true);

    const port = db.port;
    await db.kill();
    expect(await containersOn(port)).toEqual([]);
    await db.start();
    expect(db.port).toBe(port);
    const after = await open();
    const [rows] = await after.query('SELECT x FROM t ORDER BY x');
    await after.end();
    expect(rows).toEqual([{ x: 1 }, { x: 2 }]);
  }, 120_000);

  it('runs Mosquitto with the process configuration and brings it back on its port after a kill', async () => {
    const mosquitto = new MosquittoServer({ provider: 'containers' });
    cleanups.push(() => mosquitto.dispose());
    await mosquitto.start();
    const [container] = await containersOn(mosquitto.port);
    expect(container?.HostConfig.PortBindings).toEqual({ '1883/tcp': [{ HostIp: '127.0.0.1', HostPort: String(mosquitto.port) }] });
    const connects = async () => {
      const client = connectMqtt(mosquitto.url, { reconnectPeriod: 0, connectTimeout: 5000 });
      try {
        await new Promise((resolve, reject) => {
          client.once('connect', resolve);
          client.once('error', reject);
        });
      } finally {
        client.end(true);
      }
    };
    await connects();
    const port = mosquitto.port;
    await mosquitto.kill();
    await mosquitto.start();
    expect(mosquitto.port).toBe(port);
    await connects();
  });
});
