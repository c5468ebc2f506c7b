import { createLogger } from '@iot/common/log';
import { REDIS_KEY } from '@iot/device/redis-keys';
import { Redis } from 'ioredis';
import { RedisServer } from '../processes/redis-server.ts';
import { startServiceProcess } from '../processes/service-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';

/**
 * `npm start`: one simulated device on this machine. Starts a private redis-server (device
 * redis.conf, free port, temp dir) and the all-in-one device process on simulated hardware, says
 * where everything is, reports progress, and stops it all on Ctrl+C.
 *
 * Until the harness issue, this is the whole simulated system; the backend joins it later.
 */
const log = createLogger({ service: 'start' });
const run = makeTempDir('start');
const redis = new RedisServer({ dir: run.path });

try {
  await redis.start();
} catch (error) {
  log.fatal({ err: { message: (error as Error).message } }, 'could not start redis-server');
  process.stderr.write(`\n${(error as Error).message}\n`);
  run.remove();
  process.exit(1);
}

const deviceLog = `${run.path}/device.log`;
const device = startServiceProcess(
  'device-all-in-one',
  {
    HARDWARE: 'sim',
    REDIS_HOST: redis.host,
    REDIS_PORT: String(redis.port),
    SENSORS: process.env.SENSORS ?? 'bme280@0x76,sht31@0x44:outdoor',
    INTERVAL_SECONDS: process.env.INTERVAL_SECONDS ?? '2',
    SIM_ENVIRONMENT: process.env.SIM_ENVIRONMENT ?? 'daily:600',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  },
  { logFile: deviceLog },
);

const cli = `redis-cli -p ${redis.port}`;
process.stdout.write(`
Simulated device running.
  Redis         ${redis.host}:${redis.port}  (data in ${run.path})
  Device        pid ${device.pid}, all services in one process, simulated BME280 + SHT31
  Device log    ${deviceLog}  (one JSON line per event)

Try:
  ${cli} XREVRANGE ${REDIS_KEY.values} + - COUNT 3     latest readings
  ${cli} SET ${REDIS_KEY.measurementInterval} 0.5       measure twice a second
  ${cli} SET ${REDIS_KEY.measurementEnabled} 0          stop measuring (1 resumes)

Ctrl+C stops everything.

`);

const watcher = new Redis({ host: redis.host, port: redis.port });
const progress = setInterval(async () => {
  try {
    const [entries, enabled] = await Promise.all([watcher.xlen(REDIS_KEY.values), watcher.get(REDIS_KEY.measurementEnabled)]);
    const latest = device.logs().findLast((r) => r.event === 'reading_recorded');
    const values = latest === undefined ? 'none yet' : JSON.stringify(latest.values);
    process.stdout.write(`[${new Date().toISOString()}] stream entries: ${entries}, measuring: ${enabled === '0' ? 'off' : 'on'}, latest: ${values}\n`);
  } catch (error) {
    process.stdout.write(`progress unavailable: ${(error as Error).message}\n`);
  }
}, 5000);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(progress);
  process.stdout.write('\nStopping: device (writes its clean-shutdown marker), then Redis.\n');
  await device.stop('SIGTERM');
  watcher.disconnect();
  await redis.stop();
  run.remove();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const exit = await device.exited;
if (!stopping) {
  process.stderr.write(`\nThe device process exited unexpectedly (${JSON.stringify(exit)}):\n${device.tail()}\n`);
  await stop(1);
}
