import { type Clock, systemClock } from '@iot/common/clock';
import { FIELD, STREAM_KEY } from '@iot/common/protocol';
import { findFreePort, RedisServer } from '@iot/harness/processes';
import { captureLogs, eventually, ManualClock } from '@iot/harness/testing';
import { Bme280Model, Sht31Model } from '@iot/simulator/chips';
import { SimulatedHardware } from '@iot/simulator/hardware';
import { beforeEach, describe, expect, it } from 'vitest';
import { createChipDriver } from '../src/chips/index.ts';
import { createRedisConnection } from '../src/redis-connection.ts';
import { REDIS_KEY } from '@iot/common/protocol';
import { ChipSet, SensorService } from '../src/sensor/index.ts';
import { useRedisAndBroker } from './redis-and-broker.ts';

const BUS = 1;
const BME = 0x76;
const SHT = 0x44;

/** Parses XRANGE output into field maps. */
function entries(raw: [string, string[]][]): { id: string; fields: Record<string, string> }[] {
  return raw.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}

describe('sensor service against a real Redis and simulated chips', () => {
  const bed = useRedisAndBroker({ broker: 'none' });
  let sensor: SensorService | undefined;
  let hardware: SimulatedHardware;

  beforeEach(() => {
    hardware = new SimulatedHardware({ seed: 3 });
    hardware.segment(BUS).attach(BME, new Bme280Model({ environment: hardware.environment, timeScale: 0 }));
  });

  /** Starts the sensor; it is stopped after the test (before its Redis connection closes). */
  async function startSensor(options: { intervalSeconds: number; bufferCapacity?: number; withSht31?: boolean; redisPort?: number; clock?: Clock }) {
    const logs = captureLogs('sensor');
    const bus = await hardware.openI2cBus(BUS);
    const specs = [{ kind: 'bme280' as const, address: BME }];
    if (options.withSht31) {
      hardware.segment(BUS).attach(SHT, new Sht31Model({ environment: hardware.environment, timeScale: 0 }));
      specs.push({ kind: 'sht31' as const, address: SHT, name: 'outdoor' } as never);
    }
    const chips = new ChipSet(
      specs.map((spec) => ({ spec, driver: createChipDriver(spec.kind, { bus, address: spec.address, clock: systemClock }) })),
      logs.logger,
    );
    const redis = createRedisConnection({ REDIS_HOST: bed.redis.host, REDIS_PORT: options.redisPort ?? bed.redis.port, REDIS_DB: 0 }, logs.logger);
    bed.onTeardown(() => redis.disconnect());
    // On a manual clock, the sensor's wait for Redis at start would need the clock moved: connect first.
    if (options.clock !== undefined) await eventually(() => redis.status === 'ready', 10_000, 'the sensor Redis connection');
    const service = new SensorService({
      redis,
      chips,
      clock: options.clock ?? systemClock,
      logger: logs.logger,
      defaultIntervalSeconds: options.intervalSeconds,
      bufferCapacity: options.bufferCapacity ?? 10_000,
      drainTimeoutMs: 1000,
    });
    sensor = service;
    bed.onTeardown(async () => {
      if (sensor === service) await service.stop();
      sensor = undefined;
    });
    await service.start();
    return { logs, service };
  }

  async function stream() {
    return entries((await bed.admin.xrange(STREAM_KEY, '-', '+')) as [string, string[]][]);
  }

  /**
   * Waits until the measuring loop sleeps on the manual clock, then moves the clock to the end of
   * that sleep. The loop's sleeps are at most 1 s; the other sleep, the 60 s status loop, is left alone.
   */
  async function wakeMeasuring(clock: ManualClock): Promise<void> {
    const sleep = await eventually(() => clock.pending.find((s) => s.ms <= 1000), 10_000, 'the measuring loop asleep');
    clock.advanceTo(sleep.deadline);
  }

  it('records readings with the original field names and a per-boot identity, one log line per acknowledged XADD', async () => {
    hardware.environment.set({ temperatureCelsius: 23.4, humidityPercent: 51, pressureHpa: 987.6 });
    const { logs } = await startSensor({ intervalSeconds: 0.02 });
    await eventually(() => logs.find('reading_recorded').length >= 10, 5000, '10 readings');
    await sensor!.stop();
    sensor = undefined;

    const all = await stream();
    const readings = all.filter((e) => e.fields[FIELD.event] === undefined);
    const recorded = logs.find('reading_recorded');
    expect(readings.length).toBe(recorded.length);
    // Identity: one boot, sequence 1..n without gaps, in stream order.
    const bootIds = new Set(readings.map((e) => e.fields[FIELD.bootId]));
    expect(bootIds.size).toBe(1);
    expect([...bootIds][0]).toMatch(/^[0-9a-f]{16}$/);
    expect(readings.map((e) => Number(e.fields[FIELD.seq]))).toEqual(readings.map((_, i) => i + 1));
    // Values as strings, as the original wrote them, within the chip's resolution.
    const first = readings[0]!.fields;
    expect(Number(first.temperature_celsius)).toBeCloseTo(23.4, 1);
    expect(Number(first.humidity_percent)).toBeCloseTo(51, 0);
    expect(Number(first.pressure_hpa)).toBeCloseTo(987.6, 0);
    // Every log line names a stream entry with the same identity and values.
    for (const line of recorded) {
      const entry = all.find((e) => e.id === line.stream_id)!;
      expect(entry.fields[FIELD.seq]).toBe(String(line.seq));
      expect(Number(entry.fields.temperature_celsius)).toBe((line.values as Record<string, number>).temperature_celsius);
    }
    // A clean stop ends the boot with a marker that carries the last sequence number.
    const marker = all.at(-1)!.fields;
    expect(marker[FIELD.event]).toBe('shutdown');
    expect(marker[FIELD.seq]).toBe(String(readings.length));
  });

  it('applies an interval changed in Redis within one interval, then keeps to it exactly', async () => {
    // The sensor's own clock, moved by the test: the times it stamps are exact, however loaded the machine.
    const clock = new ManualClock();
    const { logs, service } = await startSensor({ intervalSeconds: 1, clock });
    await eventually(() => logs.find('reading_recorded').length === 1, 10_000, 'the first reading');
    const changedAt = clock.now();
    await bed.admin.set(REDIS_KEY.measurementInterval, '0.1');
    // Each step ends whatever sleep the sensor chose: it decides when it measures next.
    while (service.stats().measured < 6) await wakeMeasuring(clock);
    await eventually(() => logs.find('reading_recorded').length >= 6, 10_000, 'the readings recorded');
    const times = logs.find('reading_recorded').map((r) => Number(r.measured_at));
    expect(times[0]).toBe(changedAt);
    // The first reading after the change came no later than one old interval after it...
    expect(times[1]! - changedAt).toBeLessThanOrEqual(1000);
    // ...and the ones after it exactly 100 ms apart.
    expect(times.slice(2, 6).map((t, i) => t - times[i + 1]!)).toEqual([100, 100, 100, 100]);
  });

  it('stops measuring while measurement:enabled is "0" and resumes after', async () => {
    await bed.admin.set(REDIS_KEY.measurementEnabled, '0');
    const clock = new ManualClock();
    const { logs, service } = await startSensor({ intervalSeconds: 0.05, clock });
    // Ten times it wakes, reads the setting and goes back to sleep without measuring.
    for (let i = 0; i < 10; i++) await wakeMeasuring(clock);
    expect(service.stats().measured).toBe(0);
    await bed.admin.set(REDIS_KEY.measurementEnabled, '1');
    while (service.stats().measured < 3) await wakeMeasuring(clock);
    await eventually(() => logs.find('reading_recorded').length >= 3, 10_000, 'readings after enabling');
  });

  it('reports a bad interval in Redis and keeps measuring at the default', async () => {
    await bed.admin.set(REDIS_KEY.measurementInterval, 'fast');
    const { logs } = await startSensor({ intervalSeconds: 0.05 });
    await eventually(() => logs.find('reading_recorded').length >= 3, 3000, 'readings at the default');
    const [warning] = logs.find('bad_setting');
    expect(warning?.value).toBe('fast');
    expect(logs.find('bad_setting')).toHaveLength(1);
  });

  it('survives a chip fault, skips the chip while it fails, and recovers', async () => {
    const { logs } = await startSensor({ intervalSeconds: 0.03, withSht31: true });
    await eventually(() => logs.find('reading_recorded').length >= 3, 3000, 'readings from both chips');
    hardware.segment(BUS).setFault(SHT, 'nack');
    await eventually(() => logs.find('chip_error')[0], 3000, 'the chip error');
    const failingFrom = logs.find('reading_recorded').length;
    await eventually(() => logs.find('reading_recorded').length >= failingFrom + 3, 3000, 'readings while the SHT31 fails');
    hardware.segment(BUS).setFault(SHT, undefined);
    await eventually(() => logs.find('chip_recovered')[0], 3000, 'recovery');
    await eventually(() => {
      const last = logs.find('reading_recorded').at(-1)?.values as Record<string, number> | undefined;
      return last?.outdoor_temperature_celsius !== undefined;
    }, 3000, 'SHT31 values again');

    const [error] = logs.find('chip_error');
    expect(error).toMatchObject({ level: 'warn', chip: 'sht31@0x44:outdoor', code: 'i2c_nack' });
    // While the SHT31 failed the BME280 still delivered: those readings lack only the SHT31 fields.
    const during = logs.find('reading_recorded').slice(failingFrom, failingFrom + 3).map((r) => r.values as Record<string, number>);
    for (const values of during) {
      expect(values.temperature_celsius).toBeTypeOf('number');
      expect(values.outdoor_temperature_celsius).toBeUndefined();
    }
    expect(sensor!.stats().chipErrors['sht31@0x44:outdoor i2c_nack']).toBeGreaterThanOrEqual(1);
  });

  it('consumes no sequence number for a sample in which every chip failed', async () => {
    const { logs } = await startSensor({ intervalSeconds: 0.03 });
    await eventually(() => logs.find('reading_recorded').length >= 2, 3000, 'readings');
    hardware.segment(BUS).setFault(BME, 'nack');
    await eventually(() => logs.find('chip_error').length >= 2, 3000, 'failures');
    hardware.segment(BUS).setFault(BME, undefined);
    const before = logs.find('reading_recorded').length;
    await eventually(() => logs.find('reading_recorded').length >= before + 2, 3000, 'readings after recovery');
    const seqs = logs.find('reading_recorded').map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('buffers while Redis is unreachable, then records everything in order', async () => {
    // The sensor starts first, against a Redis that is not there yet.
    const port = await findFreePort();
    const late = new RedisServer({ port });
    try {
      const { logs } = await startSensor({ intervalSeconds: 0.02, redisPort: port });
      // The sensor waits up to 3 s for Redis before it measures with defaults.
      await eventually(() => sensor!.stats().buffered >= 10, 8000, 'buffered readings');
      expect(logs.find('reading_recorded')).toHaveLength(0);
      await late.start();
      await eventually(() => logs.find('reading_recorded').length >= 20, 10_000, 'the backlog recorded');
      const seqs = logs.find('reading_recorded').map((r) => r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      await sensor!.stop();
      sensor = undefined;
    } finally {
      await late.dispose();
    }
  });

  it('drops the oldest readings when the buffer is full, counts them and says so', async () => {
    const port = await findFreePort();
    const { logs } = await startSensor({ intervalSeconds: 0.01, bufferCapacity: 5, redisPort: port });
    await eventually(() => sensor!.stats().dropped >= 3, 8000, 'drops');
    const [report] = logs.find('readings_dropped');
    expect(report).toMatchObject({ level: 'error', capacity: 5, oldest_dropped_seq: 1 });
    expect(sensor!.stats().buffered).toBe(5);
  });
});
