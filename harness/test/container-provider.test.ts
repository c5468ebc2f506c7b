import { describe, expect, it } from 'vitest';
import { engineStatus } from '../src/containers/engine.ts';
import { chooseBackend, SERVICES_ENV, servicesProviderFromEnv } from '../src/containers/provider.ts';
import { findBinary } from '../src/processes/binaries.ts';
import { RedisServer } from '../src/processes/redis-server.ts';
import { cleanups, containersOn, withEnv } from './container-test-support.ts';

// The provider's choices; where a Docker engine answers, also that choosing processes starts no
// container. Servers in containers need the stand-in images: container-provider.containers.test.ts.
const docker = await engineStatus();

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
