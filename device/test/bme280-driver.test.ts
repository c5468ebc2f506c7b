import { type Clock, systemClock } from '@iot/common/clock';
import { Bme280Driver } from '../src/chips/index.ts';
import { ChipConversionTimeoutError, ChipIdentityError, I2cNackError, I2cTimeoutError, ImplausibleValueError } from '@iot/hardware';
import { describe, expect, it } from 'vitest';
import type { Bme280Trimming } from '@iot/simulator/chips';
import { Bme280Model } from '@iot/simulator/chips';
import { AdjustableEnvironment, type Conditions } from '@iot/simulator/environment';
import type { I2cDeviceModel } from '@iot/simulator/hardware';
import { SimI2cSegment } from '@iot/simulator/hardware';
import { createRandom } from '@iot/simulator';

const ADDRESS = 0x76;

/** A clock whose sleeps advance it instantly, so datasheet timing costs no wall time. */
function virtualClock(): Clock & { advance(ms: number): void } {
  let now = 1_700_000_000_000;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += Math.max(0, ms);
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

interface RigOptions {
  clock?: Clock;
  timeScale?: number;
  oversampling?: { temperature?: 1 | 2 | 4 | 8 | 16; pressure?: 1 | 2 | 4 | 8 | 16; humidity?: 1 | 2 | 4 | 8 | 16 };
  filter?: 'off' | 2 | 4 | 8 | 16;
  calibration?: Bme280Trimming;
  random?: ReturnType<typeof createRandom>;
  wrap?: (model: Bme280Model) => I2cDeviceModel;
}

function rig(options: RigOptions = {}) {
  const clock = options.clock ?? virtualClock();
  const environment = new AdjustableEnvironment();
  const segment = new SimI2cSegment(1, { timeoutMs: 30 });
  const model = new Bme280Model({
    environment,
    clock,
    timeScale: options.timeScale ?? 1,
    ...(options.calibration ? { calibration: options.calibration } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
  segment.attach(ADDRESS, options.wrap ? options.wrap(model) : model);
  const bus = segment.open();
  const driver = new Bme280Driver({
    bus,
    address: ADDRESS,
    clock,
    ...(options.oversampling ? { oversampling: options.oversampling } : {}),
    ...(options.filter ? { filter: options.filter } : {}),
  });
  return { clock, environment, segment, model, bus, driver };
}

async function readAt(r: ReturnType<typeof rig>, conditions: Conditions) {
  r.environment.set(conditions);
  const sample = await r.driver.read();
  return { t: sample.temperature_celsius!, h: sample.humidity_percent!, p: sample.pressure_hpa! };
}

describe('Bme280Driver against Bme280Model', () => {
  it('reads back set conditions within the ×1 resolution, extremes included', async () => {
    const r = rig();
    await r.driver.init();
    const points: Conditions[] = [
      { temperatureCelsius: 21.5, humidityPercent: 45, pressureHpa: 1013.25 },
      { temperatureCelsius: -40, humidityPercent: 0, pressureHpa: 300 },
      { temperatureCelsius: 85, humidityPercent: 100, pressureHpa: 1100 },
      { temperatureCelsius: -40, humidityPercent: 100, pressureHpa: 1100 },
      { temperatureCelsius: 85, humidityPercent: 0, pressureHpa: 300 },
      { temperatureCelsius: 0.37, humidityPercent: 63.2, pressureHpa: 871.4 },
    ];
    for (const point of points) {
      const got = await readAt(r, point);
      // 16-bit resolution at ×1 (§3.4.2/§3.4.3): about 0.005 °C and 3 Pa per step, temperature
      // output in 0.01 °C; humidity is 16 bit (about 0.006 %RH per step).
      expect(Math.abs(got.t - point.temperatureCelsius)).toBeLessThanOrEqual(0.01);
      expect(Math.abs(got.p - point.pressureHpa)).toBeLessThanOrEqual(0.017);
      expect(Math.abs(got.h - point.humidityPercent)).toBeLessThanOrEqual(0.01);
    }
  });

  it('reads a chip whose NVM holds the datasheet example calibration', async () => {
    const r = rig({
      calibration: {
        digT1: 27504, digT2: 26435, digT3: -1000, digP1: 36477, digP2: -10685, digP3: 3024, digP4: 2855, digP5: 140,
        digP6: -7, digP7: 15500, digP8: -14600, digP9: 6000, digH1: 75, digH2: -360 + 722, digH3: 0, digH4: -313 + 626, digH5: 50, digH6: 30,
      },
    });
    await r.driver.init();
    const got = await readAt(r, { temperatureCelsius: 25.08, humidityPercent: 55, pressureHpa: 1006.53 });
    expect(got.t).toBe(25.08);
    expect(got.p).toBeCloseTo(1006.53, 1);
    expect(got.h).toBeCloseTo(55, 1);
  });

  it('resolves pressure finer with more oversampling (16 + (osrs - 1) bits, §3.4.3)', async () => {
    const errorsAt = async (pressure: 1 | 16) => {
      // Temperature at ×16 too: pressure compensation uses the measured temperature, whose coarse ×1
      // steps would otherwise add their own error (why the datasheet pairs high P with higher T oversampling).
      const r = rig({ timeScale: 0, oversampling: { pressure, temperature: 16 } });
      await r.driver.init();
      const errors: number[] = [];
      const distinct = new Set<number>();
      // A 10 Pa sweep in 0.1 Pa steps.
      for (let i = 0; i <= 100; i++) {
        const target = 1000 + i * 0.001;
        const got = await readAt(r, { temperatureCelsius: 20, humidityPercent: 50, pressureHpa: target });
        errors.push(Math.abs(got.p - target) * 100);
        distinct.add(got.p);
      }
      return { maxErrorPa: Math.max(...errors), distinct: distinct.size };
    };
    const coarse = await errorsAt(1);
    const fine = await errorsAt(16);
    // The datasheet's example chip steps 2.62 Pa at ×1 and 0.16 Pa at ×16 (BMP280 DS001 Table 21);
    // chips differ by their dig_P1, this one steps about 3.2 Pa and 0.2 Pa. Reads stay within half a step.
    expect(coarse.maxErrorPa).toBeGreaterThan(0.8);
    expect(coarse.maxErrorPa).toBeLessThan(1.7);
    expect(coarse.distinct).toBeLessThanOrEqual(6);
    // At ×16 the integer compensation's own rounding shows: its t_fine runs a few units below the
    // double-precision formula's (§8.1 vs §4.2.3), worth up to about 0.2 Pa.
    expect(fine.maxErrorPa).toBeLessThan(0.3);
    expect(fine.distinct).toBeGreaterThanOrEqual(50);
  });

  it('applies the IIR filter to temperature (§3.4.4): a step moves 1/16 of the way per conversion', async () => {
    const r = rig({ filter: 16 });
    await r.driver.init();
    expect((await readAt(r, { temperatureCelsius: 20, humidityPercent: 50, pressureHpa: 1000 })).t).toBeCloseTo(20, 2);
    expect((await readAt(r, { temperatureCelsius: 36, humidityPercent: 50, pressureHpa: 1000 })).t).toBeCloseTo(21, 1);
    expect((await readAt(r, { temperatureCelsius: 36, humidityPercent: 50, pressureHpa: 1000 })).t).toBeCloseTo(21 + 15 / 16, 1);
  });

  it('takes the forced-mode time of Appendix B §9.1: measuring right after the trigger, data after 8 ms at ×1', async () => {
    const clock = virtualClock();
    const r = rig({ clock });
    await r.driver.init();
    r.environment.set({ temperatureCelsius: 10 });
    await r.driver.read();
    r.environment.set({ temperatureCelsius: 30 });
    const before = await r.bus.readBlock(ADDRESS, 0xf7, 8);
    // ctrl_meas: osrs_t ×1, osrs_p ×1, forced mode.
    await r.bus.writeByte(ADDRESS, 0xf4, 0b001_001_01);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x08).toBe(0x08);
    clock.advance(7.9);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x08).toBe(0x08);
    // Data shadowing: the old conversion stays readable while the new one runs.
    expect(await r.bus.readBlock(ADDRESS, 0xf7, 8)).toEqual(before);
    expect(r.model.conditionsLastConverted?.temperatureCelsius).toBe(10);
    clock.advance(0.1);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x08).toBe(0);
    expect((await r.bus.readByte(ADDRESS, 0xf4)) & 0x03).toBe(0); // back to sleep
    expect(await r.bus.readBlock(ADDRESS, 0xf7, 8)).not.toEqual(before);
    expect(r.model.conditionsLastConverted?.temperatureCelsius).toBe(30);
  });

  it('spends the typical conversion time on the clock: 8 ms at ×1, 98 ms at ×16', async () => {
    for (const [factor, typicalMs, maxMs] of [[1, 8, 9.3], [16, 98, 112.8]] as const) {
      const clock = virtualClock();
      const r = rig({ clock, oversampling: { temperature: factor, pressure: factor, humidity: factor } });
      await r.driver.init();
      const start = clock.now();
      await r.driver.read();
      expect(clock.now() - start).toBeGreaterThanOrEqual(typicalMs);
      expect(clock.now() - start).toBeLessThanOrEqual(maxMs);
    }
  });

  it('works in real time (timeScale 1, system clock)', async () => {
    // The model converts in real time and shows stale registers until it is done, so right values
    // mean the driver waited for the conversion; how long it waits is exact in the test above.
    const r = rig({ clock: systemClock });
    await r.driver.init();
    const got = await readAt(r, { temperatureCelsius: -12.34, humidityPercent: 80, pressureHpa: 950 });
    expect(got.t).toBeCloseTo(-12.34, 2);
    expect(got.p).toBeCloseTo(950, 1);
    expect(got.h).toBeCloseTo(80, 1);
  });

  it('gives up with ChipConversionTimeoutError when the conversion outlasts the datasheet maximum', async () => {
    // Five times slower than the datasheet: 40 ms against a 9.3 ms maximum (the 5 ms NVM copy
    // still fits init's 2 ms + margin).
    const r = rig({ timeScale: 5 });
    await r.driver.init();
    await expect(r.driver.read()).rejects.toThrow(ChipConversionTimeoutError);
    await expect(r.driver.read()).rejects.toThrow(/conversion still running/);
  });

  it('gives up with ChipConversionTimeoutError when the NVM copy after reset does not finish', async () => {
    const r = rig({ timeScale: 100 });
    await expect(r.driver.init()).rejects.toThrow(ChipConversionTimeoutError);
    await expect(r.driver.init()).rejects.toThrow(/NVM copy/);
  });

  it('rejects a chip with another id (a BMP280 answers 0x58) with ChipIdentityError', async () => {
    const segment = new SimI2cSegment(1);
    let pointer = 0;
    segment.attach(ADDRESS, {
      write: (data) => {
        pointer = data[0] ?? pointer;
      },
      read: (length) => Uint8Array.from({ length }, (_, i) => (pointer + i === 0xd0 ? 0x58 : 0)),
    });
    const driver = new Bme280Driver({ bus: segment.open(), address: ADDRESS, clock: virtualClock() });
    await expect(driver.init()).rejects.toBeInstanceOf(ChipIdentityError);
    await expect(driver.init()).rejects.toThrow(/0x58/);
  });

  it('passes bus faults through: nack gives I2cNackError, stuck gives I2cTimeoutError', async () => {
    const r = rig({ timeScale: 0 });
    await r.driver.init();
    r.segment.setFault(ADDRESS, 'nack');
    await expect(r.driver.read()).rejects.toBeInstanceOf(I2cNackError);
    await expect(r.driver.init()).rejects.toBeInstanceOf(I2cNackError);
    r.segment.setFault(ADDRESS, 'stuck');
    await expect(r.driver.init()).rejects.toBeInstanceOf(I2cTimeoutError);
    r.segment.setFault(ADDRESS, undefined);
    await r.driver.init();
    expect((await readAt(r, { temperatureCelsius: 5, humidityPercent: 30, pressureHpa: 990 })).t).toBe(5);
  });

  it('reports an implausible model fault as ImplausibleValueError, and recovers once cleared', async () => {
    const r = rig({ timeScale: 0 });
    await r.driver.init();
    r.model.setFault('implausible');
    const error = await r.driver.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImplausibleValueError);
    expect((error as ImplausibleValueError).quantity).toBe('temperature_celsius');
    r.model.setFault(undefined);
    await r.driver.init();
    const got = await readAt(r, { temperatureCelsius: 22.22, humidityPercent: 33.3, pressureHpa: 1020 });
    expect(got.t).toBe(22.22);
    expect(got.h).toBeCloseTo(33.3, 1);
  });

  it('calls a reading beyond the operating range implausible (100 °C)', async () => {
    const r = rig({ timeScale: 0 });
    await r.driver.init();
    await expect(readAt(r, { temperatureCelsius: 100, humidityPercent: 10, pressureHpa: 1000 })).rejects.toBeInstanceOf(ImplausibleValueError);
  });

  it('calls data registers still at their reset values (no conversion happened) implausible', async () => {
    // A chip that ignores ctrl_meas writes never converts: data stays 0x80000/0x80000/0x8000.
    const r = rig({
      timeScale: 0,
      wrap: (model) => ({
        write: (data) => (data[0] === 0xf4 ? undefined : model.write(data)),
        read: (length) => model.read(length),
      }),
    });
    await r.driver.init();
    await expect(r.driver.read()).rejects.toBeInstanceOf(ImplausibleValueError);
  });

  it('refuses read() before init()', async () => {
    const r = rig();
    await expect(r.driver.read()).rejects.toThrow(/before a successful init/);
  });

  it('rejects invalid options and the crc fault', () => {
    const r = rig();
    expect(() => new Bme280Driver({ bus: r.bus, address: ADDRESS, clock: r.clock, oversampling: { pressure: 3 as 4 } })).toThrow(RangeError);
    expect(() => r.model.setFault('crc')).toThrow(/checksum/);
  });

  it('adds noise when given a random source, shrinking with oversampling', async () => {
    const spreadAt = async (pressure: 1 | 16) => {
      const r = rig({ timeScale: 0, random: createRandom(7), oversampling: { pressure } });
      await r.driver.init();
      const values: number[] = [];
      for (let i = 0; i < 60; i++) values.push((await readAt(r, { temperatureCelsius: 20, humidityPercent: 50, pressureHpa: 1000 })).p * 100);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
      return { mean, sd };
    };
    const x1 = await spreadAt(1);
    const x16 = await spreadAt(16);
    expect(x1.mean).toBeCloseTo(100000, -0.5); // within about 1.6 Pa
    expect(x1.sd).toBeGreaterThan(0.5);
    expect(x16.sd).toBeLessThan(x1.sd / 2);
  });
});

describe('Bme280Model registers', () => {
  it('exposes chip id 0x60, resets on 0xB6 only, and writes register/value pairs (§6.2.1)', async () => {
    const r = rig({ timeScale: 0 });
    expect(await r.bus.readByte(ADDRESS, 0xd0)).toBe(0x60);
    // Pairs: ctrl_hum = 0x03, config = 0x10 in one transaction; 0xF3 (status) is read-only.
    await r.bus.write(ADDRESS, Uint8Array.of(0xf2, 0x03, 0xf5, 0x10, 0xf3, 0xff));
    expect(Array.from(await r.bus.readBlock(ADDRESS, 0xf2, 4))).toEqual([0x03, 0x00, 0x00, 0x10]);
    await r.bus.writeByte(ADDRESS, 0xe0, 0x42);
    expect(await r.bus.readByte(ADDRESS, 0xf5)).toBe(0x10);
    await r.bus.writeByte(ADDRESS, 0xe0, 0xb6);
    expect(Array.from(await r.bus.readBlock(ADDRESS, 0xf2, 12))).toEqual([0, 0, 0, 0, 0, 0x80, 0, 0, 0x80, 0, 0, 0x80]);
  });

  it('shows im_update while the NVM copies after a reset', async () => {
    const clock = virtualClock();
    const r = rig({ clock });
    await r.bus.writeByte(ADDRESS, 0xe0, 0xb6);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x01).toBe(0x01);
    clock.advance(2);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x01).toBe(0);
  });

  it('skips humidity until ctrl_hum is set, which applies at the next ctrl_meas write (§5.4.3)', async () => {
    const clock = virtualClock();
    const r = rig({ clock });
    // T and P ×1, humidity skipped: 1 + 2 + 2.5 = 5.5 ms typical.
    await r.bus.writeByte(ADDRESS, 0xf4, 0b001_001_01);
    clock.advance(5.5);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x08).toBe(0);
    expect(Array.from(await r.bus.readBlock(ADDRESS, 0xfd, 2))).toEqual([0x80, 0x00]);
    await r.bus.writeByte(ADDRESS, 0xf2, 0x01);
    await r.bus.writeByte(ADDRESS, 0xf4, 0b001_001_01);
    clock.advance(5.5);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x08).toBe(0x08);
    clock.advance(2.5);
    expect((await r.bus.readByte(ADDRESS, 0xf3)) & 0x08).toBe(0);
    expect(Array.from(await r.bus.readBlock(ADDRESS, 0xfd, 2))).not.toEqual([0x80, 0x00]);
  });
});
