import { STREAM_KEY } from '@iot/common/protocol';
import { Redis } from 'ioredis';
import { ManagedProcess } from '../processes/managed-process.ts';
import { RedisServer } from '../processes/redis-server.ts';
import { startServiceProcess } from '../processes/service-process.ts';
import { processMemory as memory } from './proc-sample.ts';
import { numericFlag, progress } from './stats.ts';

/**
 * Peak RSS of the all-in-one device process (sensor + start/stop button, simulated BME280 and
 * SHT31) measuring at 1 Hz against a local redis-server.
 *
 *   npm run bench:device-rss -- [--minutes 10] [--sample-seconds 10]
 *
 * RSS is read from /proc/<pid>/status: VmRSS now, VmHWM (the kernel's high-water mark) for the peak.
 * The baseline, measured the same way in the same run, is a bare `node -e` process kept alive by a
 * timer: what the runtime costs before any of our code. With the uplink running, from sources and
 * from the production build: `npm run bench:device-footprint` (P4).
 */
const minutes = numericFlag('minutes', 10);
const sampleSeconds = numericFlag('sample-seconds', 10);

const redis = await new RedisServer().start();
const device = startServiceProcess('device-all-in-one', {
  HARDWARE: 'sim',
  REDIS_HOST: redis.host,
  REDIS_PORT: String(redis.port),
  SENSORS: 'bme280@0x76,sht31@0x44:outdoor',
  INTERVAL_SECONDS: '1',
  SIM_ENVIRONMENT: 'daily:600',
});
const idle = new ManagedProcess({ name: 'idle-node', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] });

await device.waitForLog((r) => r.event === 'reading_recorded', 15_000, 'the first reading');
const admin = new Redis({ host: redis.host, port: redis.port });
const samples: { minute: number; rssKiB: number }[] = [];
const started = Date.now();
const end = started + minutes * 60_000;
while (Date.now() < end) {
  await new Promise((resolve) => setTimeout(resolve, sampleSeconds * 1000));
  const { rssKiB, peakKiB } = memory(device.pid!);
  const minute = (Date.now() - started) / 60_000;
  samples.push({ minute, rssKiB });
  progress(`${minute.toFixed(1)}/${minutes} min: RSS ${(rssKiB / 1024).toFixed(1)} MiB, peak ${(peakKiB / 1024).toFixed(1)} MiB, stream ${await admin.xlen(STREAM_KEY)} entries`);
}

const final = memory(device.pid!);
const idleMemory = memory(idle.pid!);
const recorded = device.logs().filter((r) => r.event === 'reading_recorded').length;
const firstHalf = samples.filter((s) => s.minute <= minutes / 2).map((s) => s.rssKiB);
const secondHalf = samples.filter((s) => s.minute > minutes / 2).map((s) => s.rssKiB);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
process.stdout.write(
  [
    '',
    `All-in-one device process, ${minutes} min at 1 Hz, ${recorded} readings recorded (node ${process.version})`,
    `| what | MiB |`,
    `| --- | --- |`,
    `| device peak RSS (VmHWM) | ${(final.peakKiB / 1024).toFixed(1)} |`,
    `| device RSS at the end | ${(final.rssKiB / 1024).toFixed(1)} |`,
    `| device mean RSS, first half / second half | ${(mean(firstHalf) / 1024).toFixed(1)} / ${(mean(secondHalf) / 1024).toFixed(1)} |`,
    `| baseline: idle node process peak RSS | ${(idleMemory.peakKiB / 1024).toFixed(1)} |`,
    `| ratio device peak / idle node peak | ${(final.peakKiB / idleMemory.peakKiB).toFixed(2)} |`,
    '',
  ].join('\n'),
);

admin.disconnect();
await device.stop();
await idle.kill();
await redis.dispose();
