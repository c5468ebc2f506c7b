import { existsSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { connect as connectMqtt } from 'mqtt';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { PID_LABEL, RUN_LABEL, runId, SERVICE_LABEL } from '../src/containers/cleanup.ts';
import { engineStatus } from '../src/containers/engine.ts';
import { MariaDbServer } from '../src/processes/mariadb-server.ts';
import { MosquittoServer } from '../src/processes/mosquitto-server.ts';
import { RedisServer } from '../src/processes/redis-server.ts';
import { makeTempDir } from '../src/processes/temp-dir.ts';
import { eventually } from '../src/testing/log-capture.ts';
import { cleanups, containersOn, outsideAddresses, pingAt, processState, withEnv } from './container-test-support.ts';

// Servers as containers, from the images docs/containers.md §2 describes: the container tier of
// npm test (vitest.containers.config.ts) runs this after it has built them.
const docker = await engineStatus();

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
