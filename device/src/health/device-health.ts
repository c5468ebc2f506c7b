import { ConfigError, parseEnv, z } from '@iot/common/config';
import { silentLogger } from '@iot/common/log';
import { REDIS_KEY } from '@iot/common/protocol';
import { Redis } from 'ioredis';
import { hardwareEnv, type RedisConfig, redisEnv } from '../device-config.ts';
import { sensorEnv } from '../sensor/config.ts';
import { MeasurementSettingsReader } from '../sensor/measurement-settings.ts';
import { judgeSensor, type Verdict } from './sensor-verdict.ts';

/** The services a healthcheck can be asked about; `device` is the all-in-one process. */
export const HEALTH_TARGETS = ['sensor', 'startstopbutton', 'mqtthandler', 'device'] as const;
export type HealthTarget = (typeof HEALTH_TARGETS)[number];

/**
 * Entry points as the containers start them, so a check can tell which service it runs beside:
 * the folder of its main file, from the sources (device/src/<folder>/main.ts) or from the
 * production build (<outdir>/<folder>/main.mjs, device/build/bundle.ts).
 */
const ENTRY_FOLDERS: Readonly<Record<HealthTarget, string>> = {
  sensor: 'sensor',
  startstopbutton: 'button',
  mqtthandler: 'uplink',
  device: 'all-in-one',
};
const ENTRY_POINTS = Object.fromEntries(
  HEALTH_TARGETS.map((target) => [target, new RegExp(`(^|[\\s/])${ENTRY_FOLDERS[target]}/main\\.(ts|mjs)(\\s|$)`)]),
) as Readonly<Record<HealthTarget, RegExp>>;

const CONNECT_TIMEOUT_MS = 2000;

/** Which service a command line starts, or undefined if it starts none of them. */
export function targetOfCommandLine(commandLine: string): HealthTarget | undefined {
  return HEALTH_TARGETS.find((target) => ENTRY_POINTS[target].test(commandLine));
}

/**
 * Only the variables a check reads, so a variable the service needs and the check does not (a
 * hardware mode, MQTT settings) can never make the check fail on its own.
 */
const redisOnly = z.object(redisEnv);
const sensorSide = z.object({ ...redisEnv, SENSORS: hardwareEnv.SENSORS, INTERVAL_SECONDS: sensorEnv.INTERVAL_SECONDS });

/**
 * One healthcheck of a device service, judged from Redis: the services have no health port, and
 * what they do shows up there. The sensor (and the all-in-one process, which contains it) must
 * have written a reading lately; the button and the uplink need Redis to answer.
 */
export async function checkHealth(target: HealthTarget, env: NodeJS.ProcessEnv): Promise<Verdict> {
  try {
    return target === 'sensor' || target === 'device' ? await checkSensor(parseEnv(target, sensorSide, env)) : await checkRedisAnswers(parseEnv(target, redisOnly, env));
  } catch (error) {
    if (error instanceof ConfigError) return { healthy: false, message: `invalid configuration: ${error.problems.join('; ')}` };
    throw error;
  }
}

/** The button and the uplink keep nothing in memory that a restart would lose, so Redis gone is unhealthy. */
async function checkRedisAnswers(config: RedisConfig): Promise<Verdict> {
  const redis = await connect(config);
  if (typeof redis === 'string') return { healthy: false, message: `redis unreachable: ${redis}` };
  try {
    await redis.ping();
    return { healthy: true, message: `redis at ${config.REDIS_HOST}:${config.REDIS_PORT} answers` };
  } catch (error) {
    return { healthy: false, message: `redis did not answer: ${(error as Error).message}` };
  } finally {
    redis.disconnect();
  }
}

/**
 * Redis gone counts as healthy here: a restart cannot bring it back (its own healthcheck reports
 * it), and it would drop the readings the sensor buffers meanwhile.
 */
async function checkSensor(config: z.infer<typeof sensorSide>): Promise<Verdict> {
  const buffering = (problem: string): Verdict => ({ healthy: true, message: `redis ${problem}: readings wait in the sensor's buffer` });
  const redis = await connect(config);
  if (typeof redis === 'string') return buffering(`unreachable (${redis})`);
  try {
    // The sensor's own reader, so the interval is the one the sensor uses, bad values included.
    const settings = await new MeasurementSettingsReader({ redis, defaultIntervalSeconds: config.INTERVAL_SECONDS, logger: silentLogger() }).current(0, 0);
    const [newest, time, memory] = await Promise.all([redis.xrevrange(REDIS_KEY.values, '+', '-', 'COUNT', 1), redis.time(), redis.info('memory')]);
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const newestId = newest[0]?.[0];
    return judgeSensor({
      sensors: config.SENSORS.length,
      enabled: settings.enabled,
      intervalSeconds: settings.intervalSeconds,
      newestEntryAgeMs: newestId === undefined ? undefined : nowMs - Number(newestId.split('-')[0]),
      memoryFill: memoryFill(memory),
    });
  } catch (error) {
    return buffering(`did not answer (${(error as Error).message})`);
  } finally {
    redis.disconnect();
  }
}

/** used_memory / maxmemory from INFO memory; 0 when there is no limit. */
export function memoryFill(info: string): number {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? '0');
  const max = field('maxmemory');
  return max === 0 ? 0 : field('used_memory') / max;
}

/** One connection attempt, no retries: a probe answers now or not at all. Returns the error text on failure. */
async function connect(config: RedisConfig): Promise<Redis | string> {
  const redis = new Redis({
    host: config.REDIS_HOST,
    port: config.REDIS_PORT,
    db: config.REDIS_DB,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The socket's error (ECONNREFUSED, ENOTFOUND) says more than connect()'s "Connection is closed".
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError = error;
  });
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    redis.disconnect();
    return `${config.REDIS_HOST}:${config.REDIS_PORT}: ${(socketError ?? (error as Error)).message}`;
  }
}
