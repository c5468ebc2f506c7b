import { createWriteStream } from 'node:fs';
import { type Clock, systemClock } from '@iot/common/clock';
import { createLogger } from '@iot/common/log';
import { readingFields, REDIS_KEY, STREAM_KEY } from '@iot/common/protocol';
import { createChipDriver } from '@iot/device/chips';
import { ChipSet, SensorService } from '@iot/device/sensor';
import { Redis } from 'ioredis';
import { Bme280Model } from '@iot/simulator/chips';
import { Sht31Model } from '@iot/simulator/chips';
import { SimulatedHardware } from '@iot/simulator/hardware';
import { RedisServer } from '../processes/redis-server.ts';
import { createRedisConnection } from '@iot/device/redis-connection';
import { median, numericFlag, progress } from './stats.ts';

/**
 * The sensor's readings/s at interval 0 against a local redis-server (device redis.conf, AOF on).
 *
 *   npm run bench:sensor -- [--seconds 5] [--runs 5]
 *
 * Three measurements per run, all against the same Redis:
 * - baseline: bare pipelined XADDs of the same entries (what Redis and the client allow);
 * - sensor, instant chips: the whole service (settings, chip drivers over the simulated bus,
 *   buffer, XADD, one log line per reading) with conversion time 0 and the drivers' conversion
 *   waits skipped (their injected clock sleeps 0 ms), so the software alone is measured;
 * - sensor, datasheet timing: the chips take as long as real ones (BME280 forced mode at x1
 *   oversampling ~8 ms, SHT31 high repeatability 15.5 ms), which is what a Pi would see.
 * Reports the median of the runs and the ratio to the baseline measured in the same run.
 */
const seconds = numericFlag('seconds', 5);
const runs = numericFlag('runs', 5);

const redisServer = await new RedisServer().start();
const admin = new Redis({ host: redisServer.host, port: redisServer.port });
const logFile = `${redisServer.dir}/sensor-bench.log`;

async function baseline(): Promise<number> {
  await admin.del(STREAM_KEY);
  const values = { temperature_celsius: 21.53, humidity_percent: 45.12, pressure_hpa: 1013.2 };
  const deadline = Date.now() + seconds * 1000;
  let count = 0;
  const started = performance.now();
  while (Date.now() < deadline) {
    const pipeline = admin.pipeline();
    for (let i = 0; i < 128; i++) pipeline.xadd(STREAM_KEY, '*', ...readingFields({ bootId: '0123456789abcdef', seq: ++count }, Date.now(), values));
    await pipeline.exec();
  }
  return count / ((performance.now() - started) / 1000);
}

async function sensorRun(timeScale: number, chips: 'bme280' | 'bme280+sht31'): Promise<number> {
  await admin.del(STREAM_KEY);
  await admin.set(REDIS_KEY.measurementInterval, '0');
  const hardware = new SimulatedHardware();
  hardware.segment(1).attach(0x76, new Bme280Model({ environment: hardware.environment, timeScale }));
  const specs: { kind: 'bme280' | 'sht31'; address: number; name?: string }[] = [{ kind: 'bme280', address: 0x76 }];
  if (chips === 'bme280+sht31') {
    hardware.segment(1).attach(0x44, new Sht31Model({ environment: hardware.environment, timeScale }));
    specs.push({ kind: 'sht31', address: 0x44, name: 'outdoor' });
  }
  const bus = await hardware.openI2cBus(1);
  // With instant chips the drivers need not wait for conversions either.
  const driverClock: Clock = timeScale === 0 ? { now: () => Date.now(), sleep: async () => {} } : systemClock;
  // Log lines go to a file, synchronously, as a service's stdout would on a device.
  const logger = createLogger({ service: 'sensor', destination: createWriteStream(logFile, { flags: 'w' }) });
  const redis = createRedisConnection({ REDIS_HOST: redisServer.host, REDIS_PORT: redisServer.port, REDIS_DB: 0 }, logger);
  const sensor = new SensorService({
    redis,
    chips: new ChipSet(specs.map((spec) => ({ spec, driver: createChipDriver(spec.kind, { bus, address: spec.address, clock: driverClock }) })), logger),
    clock: systemClock,
    logger,
    defaultIntervalSeconds: 0,
    bufferCapacity: 10_000,
  });
  await sensor.start();
  await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up: connection, chip init, JIT
  const from = sensor.stats().recorded;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const rate = (sensor.stats().recorded - from) / ((performance.now() - started) / 1000);
  await sensor.stop();
  redis.disconnect();
  return rate;
}

const results = { baseline: [] as number[], instant: [] as number[], instantTwo: [] as number[], datasheet: [] as number[] };
for (let run = 1; run <= runs; run++) {
  results.baseline.push(await baseline());
  results.instant.push(await sensorRun(0, 'bme280'));
  results.instantTwo.push(await sensorRun(0, 'bme280+sht31'));
  results.datasheet.push(await sensorRun(1, 'bme280'));
  progress(
    `run ${run}/${runs}: baseline ${results.baseline.at(-1)!.toFixed(0)}/s, sensor instant ${results.instant.at(-1)!.toFixed(0)}/s, ` +
      `instant 2 chips ${results.instantTwo.at(-1)!.toFixed(0)}/s, datasheet timing ${results.datasheet.at(-1)!.toFixed(1)}/s`,
  );
}

const base = median(results.baseline);
const row = (name: string, values: number[]) =>
  `| ${name} | ${median(values).toFixed(1)} | ${(median(values) / base).toFixed(3)} | ${values.map((v) => v.toFixed(0)).join(', ')} |`;
process.stdout.write(
  [
    `\nSensor throughput at interval 0, ${runs} runs of ${seconds} s, median readings/s (node ${process.version}, local redis-server with the device redis.conf)`,
    '| what | median /s | ratio to baseline | runs |',
    '| --- | --- | --- | --- |',
    row('baseline: bare pipelined XADD', results.baseline),
    row('sensor service, BME280, instant conversion', results.instant),
    row('sensor service, BME280 + SHT31, instant conversion', results.instantTwo),
    row('sensor service, BME280, datasheet conversion time', results.datasheet),
    '',
  ].join('\n'),
);

admin.disconnect();
await redisServer.dispose();
