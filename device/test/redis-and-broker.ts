import type { Logger } from '@iot/common/log';
import { MosquittoServer, RedisServer, type ServiceName, type ServiceProcess, startServiceProcess } from '@iot/harness/processes';
import { captureLogs, eventually } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createRedisConnection } from '../src/redis-connection.ts';
import { type RunningUplink, type StartUplinkOptions, startUplink, TestBackend, TestBroker } from './uplink-fixtures.ts';

/**
 * `aedes`: our test broker in this process (uplink-fixtures.ts), restartable on its port.
 * `mosquitto`: a real Mosquitto 2 (it speaks MQTT 5). `none`: Redis only.
 */
type BrokerKind = 'aedes' | 'mosquitto' | 'none';

interface RedisAndBrokerOptions {
  broker?: BrokerKind;
  /** Connect a fresh {@link TestBackend} before every test (as {@link RedisAndBroker.backend}). */
  backend?: boolean;
}

/** The broker as the tests drive it; both kinds keep their port across stop and start. */
interface TestBrokerHandle {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly running: boolean;
  start(): Promise<unknown>;
  /** Stops it (aedes: as a crash, every connection cut); {@link start} brings it back on the same port. */
  stop(): Promise<void>;
}

interface OwnedBroker extends TestBrokerHandle {
  /** The in-process aedes broker, when that is the kind. */
  readonly aedes?: TestBroker;
  dispose(): Promise<void>;
}

/** What one describe block gets: real servers on free ports and everything it started, torn down pass or fail. */
export interface RedisAndBroker {
  /** The real redis-server (device redis.conf). A test may kill or stop it; the next test gets it back running. */
  readonly redis: RedisServer;
  /** A plain client for the test's own reads and writes; it rides out Redis restarts. */
  readonly admin: Redis;
  readonly broker: TestBrokerHandle;
  /** The in-process aedes broker (kind `aedes`), e.g. to see which messages it received. */
  readonly aedes: TestBroker;
  /** The backend of the current test (with `backend: true`). */
  readonly backend: TestBackend;
  /** A further backend, e.g. one that keeps only sequence numbers; closed after the test. */
  connectBackend(options?: { keep?: boolean }): Promise<TestBackend>;
  /** The uplink in this process (uplink-fixtures.ts startUplink) against these servers; stopped after the test. */
  startUplink(env?: Record<string, string>, options?: StartUplinkOptions): Promise<RunningUplink>;
  /** A service as its own OS process against these servers; killed after the test. */
  startProcess(name: ServiceName, env?: Record<string, string>): ServiceProcess;
  /** The device's own fail-fast connection (redis-connection.ts), once it is ready; closed at the end of its scope. */
  deviceRedis(logger?: Logger): Promise<Redis>;
  /** Runs `cleanup` after the current test (or, called outside a test, after the describe block). */
  onTeardown(cleanup: () => unknown): void;
}

/**
 * One fixture for the device tests: a real redis-server and a broker on free ports for the
 * describe block that calls it, a flushed Redis and a fresh backend for every test, and a
 * teardown that stops whatever the test started (uplinks, processes, connections) before the
 * servers go, whether the test passed or failed. Call it at the top of a `describe`.
 */
export function useRedisAndBroker(options: RedisAndBrokerOptions = {}): RedisAndBroker {
  const kind = options.broker ?? 'aedes';
  const redis = new RedisServer();
  const broker = createBroker(kind);
  const suiteCleanups: (() => unknown)[] = [];
  let testCleanups: (() => unknown)[] | undefined;
  let admin: Redis | undefined;
  let backend: TestBackend | undefined;

  const onTeardown = (cleanup: () => unknown) => (testCleanups ?? suiteCleanups).push(cleanup);
  /** REDIS_HOST/REDIS_PORT, and MQTT_HOST/MQTT_PORT when a broker runs: what a device service needs. */
  const env = () => ({
    REDIS_HOST: redis.host,
    REDIS_PORT: String(redis.port),
    ...(kind === 'none' ? {} : { MQTT_HOST: broker.host, MQTT_PORT: String(broker.port) }),
  });
  const connectBackend = async (backendOptions: { keep?: boolean } = {}) => {
    const connected = await new TestBackend(backendOptions).connect(broker.url);
    onTeardown(() => connected.close());
    return connected;
  };

  beforeAll(async () => {
    suiteCleanups.push(() => redis.dispose());
    await redis.start();
    if (kind !== 'none') {
      suiteCleanups.push(() => broker.dispose());
      await broker.start();
    }
    admin = new Redis({ host: redis.host, port: redis.port, retryStrategy: () => 50 });
    admin.on('error', () => {});
    suiteCleanups.push(() => admin?.disconnect());
  });
  afterAll(() => runAll(suiteCleanups));

  beforeEach(async () => {
    testCleanups = [];
    // A test that crashed a server leaves it down; every test starts with both running.
    if (!redis.running) await redis.start();
    if (kind !== 'none' && !broker.running) await broker.start();
    await admin!.flushall();
    backend = options.backend ? await connectBackend() : undefined;
  });
  afterEach(async () => {
    const cleanups = testCleanups ?? [];
    testCleanups = undefined;
    backend = undefined;
    await runAll(cleanups);
  });

  return {
    redis,
    get admin() {
      if (admin === undefined) throw new Error('useRedisAndBroker: the servers start in beforeAll; use admin inside a hook or test');
      return admin;
    },
    broker,
    get aedes() {
      if (broker.aedes === undefined) throw new Error(`useRedisAndBroker: the broker is ${kind}, not aedes`);
      return broker.aedes;
    },
    get backend() {
      if (backend === undefined) throw new Error('useRedisAndBroker: no backend (pass { backend: true }, or use connectBackend)');
      return backend;
    },
    connectBackend,
    async startUplink(extraEnv = {}, uplinkOptions = {}) {
      const running = await startUplink({ ...env(), ...extraEnv }, uplinkOptions);
      onTeardown(() => running.stop());
      return running;
    },
    startProcess(name, extraEnv = {}) {
      const service = startServiceProcess(name, { HARDWARE: 'sim', LOG_LEVEL: 'info', ...env(), ...extraEnv });
      onTeardown(() => service.kill());
      return service;
    },
    async deviceRedis(logger = captureLogs().logger) {
      const connection = createRedisConnection({ REDIS_HOST: redis.host, REDIS_PORT: redis.port, REDIS_DB: 0 }, logger);
      onTeardown(() => connection.disconnect());
      await eventually(() => connection.status === 'ready', 10_000, 'the device Redis connection');
      return connection;
    },
    onTeardown,
  };
}

function createBroker(kind: BrokerKind): OwnedBroker {
  if (kind === 'mosquitto') {
    const mosquitto = new MosquittoServer();
    return {
      get url() {
        return mosquitto.url;
      },
      host: mosquitto.host,
      get port() {
        return mosquitto.port;
      },
      get running() {
        return mosquitto.running;
      },
      start: () => mosquitto.start(),
      stop: () => mosquitto.stop(),
      dispose: () => mosquitto.dispose(),
    };
  }
  const aedes = new TestBroker();
  return {
    aedes,
    get url() {
      return aedes.url;
    },
    host: '127.0.0.1',
    get port() {
      return aedes.port;
    },
    get running() {
      return aedes.running;
    },
    start: () => aedes.start(),
    stop: () => aedes.stop(),
    dispose: () => aedes.stop(),
  };
}

/** Runs every cleanup, newest first, even when some fail; then reports the failures. */
async function runAll(cleanups: (() => unknown)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} teardown steps failed`);
}
