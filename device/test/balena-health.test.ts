import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REDIS_KEY } from '@iot/common/protocol';
import { findFreePort } from '@iot/harness/processes';
import { describe, expect, it } from 'vitest';
import { memoryFill, targetOfCommandLine } from '../src/health/device-health.ts';
import { judgeSensor, type SensorObservation, staleAfterMs } from '../src/health/sensor-verdict.ts';
import { useRedisAndBroker } from './redis-and-broker.ts';

const HEALTH_MAIN = fileURLToPath(new URL('../src/health/main.ts', import.meta.url));

/** Runs the image's healthcheck as Docker does: its own process, the container's environment. */
function health(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HEALTH_MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr });
    });
  });
}

describe('the sensor verdict', () => {
  const fresh: SensorObservation = { sensors: 1, enabled: true, intervalSeconds: 2, newestEntryAgeMs: 1000, memoryFill: 0.1 };

  it('is healthy while readings arrive and unhealthy once three intervals (at least 30 s) pass without one', () => {
    expect(judgeSensor(fresh).healthy).toBe(true);
    expect(judgeSensor({ ...fresh, newestEntryAgeMs: 29_000 }).healthy).toBe(true);
    expect(judgeSensor({ ...fresh, newestEntryAgeMs: 31_000 })).toEqual({ healthy: false, message: 'no reading for 31 s (interval 2 s, limit 30 s)' });
    expect(judgeSensor({ ...fresh, intervalSeconds: 600, newestEntryAgeMs: 1_700_000 }).healthy).toBe(true);
    expect(judgeSensor({ ...fresh, newestEntryAgeMs: undefined }).healthy).toBe(false);
    expect(staleAfterMs(0)).toBe(30_000);
    expect(staleAfterMs(60)).toBe(180_000);
  });

  it('stays healthy where a restart could not help and would drop buffered readings', () => {
    const stale = { ...fresh, newestEntryAgeMs: 3_600_000 };
    expect(judgeSensor({ ...stale, enabled: false })).toMatchObject({ healthy: true, message: expect.stringContaining('switched off') });
    expect(judgeSensor({ ...stale, sensors: 0 })).toMatchObject({ healthy: true, message: expect.stringContaining('no sensors') });
    expect(judgeSensor({ ...stale, memoryFill: 0.97 })).toMatchObject({ healthy: true, message: expect.stringContaining('97% full') });
    expect(judgeSensor({ ...stale, memoryFill: 0.5 }).healthy).toBe(false);
  });

  it('reads the memory fill from INFO memory and the service from a command line', () => {
    expect(memoryFill('# Memory\r\nused_memory:500\r\nused_memory_human:500B\r\nmaxmemory:1000\r\n')).toBe(0.5);
    expect(memoryFill('used_memory:500\r\nmaxmemory:0\r\n')).toBe(0);
    expect(targetOfCommandLine('node device/src/sensor/main.ts ')).toBe('sensor');
    expect(targetOfCommandLine('node device/src/button/main.ts ')).toBe('startstopbutton');
    expect(targetOfCommandLine('node device/src/uplink/main.ts ')).toBe('mqtthandler');
    expect(targetOfCommandLine('node device/src/all-in-one/main.ts ')).toBe('device');
    expect(targetOfCommandLine('sh ')).toBeUndefined();
  });
});

describe('the device healthcheck against a real Redis', () => {
  const bed = useRedisAndBroker({ broker: 'none' });
  const env = () => ({ REDIS_HOST: bed.redis.host, REDIS_PORT: String(bed.redis.port) });
  const redisNowMs = async () => {
    const [seconds, micros] = await bed.admin.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  it('passes for a sensor whose readings arrive, as the real sensor writes them', async () => {
    const sensor = bed.startProcess('sensor', { HARDWARE: 'sim', INTERVAL_SECONDS: '0.5', SENSORS: 'bme280@0x76' });
    await sensor.waitForLog((r) => r.event === 'reading_recorded', 15_000, 'a recorded reading');
    const result = await health(['sensor'], env());
    expect(result).toMatchObject({ code: 0, output: expect.stringContaining('sensor: last reading') });
  });

  it('fails for a sensor that wrote nothing for three intervals, by the interval in Redis', async () => {
    await bed.admin.xadd(REDIS_KEY.values, `${(await redisNowMs()) - 600_000}-0`, 'temperature_celsius', '21.5');
    const stale = await health(['sensor'], env());
    expect(stale.code).toBe(1);
    expect(stale.output).toMatch(/^sensor: no reading for 60\d s \(interval 2 s, limit 30 s\)/);
    // The sensor's interval comes from measurement:interval, as the sensor reads it.
    await bed.admin.set(REDIS_KEY.measurementInterval, '600');
    expect((await health(['sensor'], env())).code).toBe(0);
    await bed.admin.set(REDIS_KEY.measurementInterval, '2');
    await bed.admin.set(REDIS_KEY.measurementEnabled, '0');
    expect(await health(['sensor'], env())).toMatchObject({ code: 0, output: expect.stringContaining('switched off') });
    // The all-in-one process is judged as the sensor it contains.
    await bed.admin.del(REDIS_KEY.measurementEnabled);
    expect((await health(['device'], env())).code).toBe(1);
  });

  it('passes a stale sensor while Redis is full, as readings then wait in its buffer', async () => {
    await bed.admin.xadd(REDIS_KEY.values, `${(await redisNowMs()) - 600_000}-0`, 'temperature_celsius', '21.5');
    const used = /used_memory:(\d+)/.exec(await bed.admin.info('memory'))![1]!;
    await bed.admin.config('SET', 'maxmemory', used);
    try {
      expect(await health(['sensor'], env())).toMatchObject({ code: 0, output: expect.stringContaining('full') });
    } finally {
      await bed.admin.config('SET', 'maxmemory', '100mb');
    }
  });

  it('without Redis: the sensor passes (restarting it would drop its buffer), button and uplink fail', async () => {
    const nobody = { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(await findFreePort()) };
    expect(await health(['sensor'], nobody)).toMatchObject({ code: 0, output: expect.stringContaining("wait in the sensor's buffer") });
    for (const service of ['startstopbutton', 'mqtthandler']) {
      expect(await health([service], nobody)).toMatchObject({ code: 1, output: expect.stringContaining('redis unreachable') });
      expect((await health([service], env())).code).toBe(0);
    }
  });

  it('reports configuration mistakes and usage mistakes', async () => {
    expect(await health(['sensor'], { ...env(), INTERVAL_SECONDS: 'often' })).toMatchObject({ code: 1, output: expect.stringContaining('INTERVAL_SECONDS') });
    expect(await health(['toaster'], env())).toMatchObject({ code: 2, output: expect.stringContaining('unknown service "toaster"') });
    // Outside a device container PID 1 is no device service, so the service must be named.
    if (targetOfCommandLine(readFileSync('/proc/1/cmdline', 'utf8').replaceAll('\0', ' ')) === undefined) {
      expect(await health([], env())).toMatchObject({ code: 2, output: expect.stringContaining('name the service') });
    }
  });
});
