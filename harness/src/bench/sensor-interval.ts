import { Writable } from 'node:stream';
import { systemClock } from '@iot/common/clock';
import { createLogger } from '@iot/common/log';
import { createChipDriver } from '@iot/device/chips';
import { createRedisConnection } from '@iot/device/redis-connection';
import { ChipSet, SensorService } from '@iot/device/sensor';
import { Bme280Model } from '@iot/simulator/chips';
import { SimulatedHardware } from '@iot/simulator/hardware';
import { Redis } from 'ioredis';
import { RedisServer } from '../processes/redis-server.ts';
import { median, numericFlag, percentile, progress } from './stats.ts';

/**
 * How closely the sensor keeps its interval on the real clock: the gap bounds the sensor test used
 * to assert (it now runs on a manual clock, where the gaps are exact), measured instead.
 *
 *   npm run bench:sensor-interval -- [--interval 0.1] [--readings 50] [--runs 5]
 *
 * Per run, against a local redis-server (device redis.conf):
 * - baseline: a bare drift-free timer loop at the same interval (what the event loop allows);
 * - the sensor service with one simulated BME280, its readings' `measured_at` gaps.
 * Reported: the median over the runs of the median, p95 and largest gap, and the ratio of the
 * median gap to the baseline's measured in the same runs.
 */
const intervalSeconds = numericFlag('interval', 0.1);
const readings = numericFlag('readings', 50);
const runs = numericFlag('runs', 5);
const intervalMs = intervalSeconds * 1000;

const redisServer = await new RedisServer().start();
const admin = new Redis({ host: redisServer.host, port: redisServer.port });

/** Consecutive differences. */
const gapsOf = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

/** A loop that wakes every interval on a drift-free schedule and notes when it woke. */
async function timerLoop(): Promise<number[]> {
  const times: number[] = [];
  let due = Date.now();
  while (times.length < readings) {
    await systemClock.sleep(due - Date.now());
    times.push(Date.now());
    due += intervalMs;
  }
  return gapsOf(times);
}

async function sensorRun(): Promise<number[]> {
  await admin.del('measurement:values', 'measurement:interval', 'measurement:enabled');
  const hardware = new SimulatedHardware();
  hardware.segment(1).attach(0x76, new Bme280Model({ environment: hardware.environment, timeScale: 0 }));
  const bus = await hardware.openI2cBus(1);
  const times: number[] = [];
  let reached: (() => void) | undefined;
  // The sensor's log is where it says when each reading was measured.
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line.includes('"reading_recorded"')) continue;
        times.push(Number((JSON.parse(line) as { measured_at: number }).measured_at));
        if (times.length >= readings) reached?.();
      }
      done();
    },
  });
  const logger = createLogger({ service: 'sensor', destination });
  const redis = createRedisConnection({ REDIS_HOST: redisServer.host, REDIS_PORT: redisServer.port, REDIS_DB: 0 }, logger);
  const sensor = new SensorService({
    redis,
    chips: new ChipSet([{ spec: { kind: 'bme280', address: 0x76 }, driver: createChipDriver('bme280', { bus, address: 0x76, clock: systemClock }) }], logger),
    clock: systemClock,
    logger,
    defaultIntervalSeconds: intervalSeconds,
    bufferCapacity: 10_000,
  });
  const done = new Promise<void>((resolve) => {
    reached = resolve;
  });
  await sensor.start();
  await done;
  await sensor.stop();
  redis.disconnect();
  return gapsOf(times.slice(0, readings));
}

const setups = [
  { name: 'baseline: drift-free timer loop', run: timerLoop },
  { name: 'sensor service, BME280', run: sensorRun },
];
const stats = setups.map(() => ({ median: [] as number[], p95: [] as number[], max: [] as number[] }));
try {
  for (let run = 1; run <= runs; run++) {
    for (const [i, setup] of setups.entries()) {
      const gaps = await setup.run();
      stats[i]!.median.push(median(gaps));
      stats[i]!.p95.push(percentile(gaps, 0.95));
      stats[i]!.max.push(Math.max(...gaps));
    }
    progress(`run ${run}/${runs}: ${setups.map((s, i) => `${s.name} median gap ${stats[i]!.median.at(-1)!.toFixed(1)} ms`).join('; ')}`);
  }
} finally {
  admin.disconnect();
  await redisServer.dispose();
}

const base = median(stats[0]!.median);
process.stdout.write(
  [
    '',
    `Gaps between readings at interval ${intervalSeconds} s, ${readings} readings per run, ${runs} runs, medians (node ${process.version})`,
    '| what | median gap (ms) | p95 gap (ms) | largest gap (ms) | ratio to baseline | ratio to interval |',
    '| --- | --- | --- | --- | --- | --- |',
    ...setups.map((setup, i) => {
      const mid = median(stats[i]!.median);
      return `| ${setup.name} | ${mid.toFixed(1)} | ${median(stats[i]!.p95).toFixed(1)} | ${median(stats[i]!.max).toFixed(1)} | ${(mid / base).toFixed(3)} | ${(mid / intervalMs).toFixed(3)} |`;
    }),
    '',
  ].join('\n'),
);
