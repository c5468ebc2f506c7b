import type { Clock } from '@iot/common/clock';
import { systemClock } from '@iot/common/clock';
import { Sht31Driver } from '../src/chips/index.ts';
import { ChipConversionTimeoutError, ChipCrcError, ChipIdentityError, HardwareError, I2cNackError, I2cTimeoutError, ImplausibleValueError } from '@iot/hardware';
import { describe, expect, it } from 'vitest';
import { Sht31Model } from '@iot/simulator/chips';
import { AdjustableEnvironment, constantEnvironment } from '@iot/simulator/environment';
import { type I2cDeviceModel, ModelNack } from '@iot/simulator/hardware';
import { SimI2cSegment } from '@iot/simulator/hardware';
import { createRandom } from '@iot/simulator';

const ADDRESS = 0x44;
/** Half a step of the raw word (datasheet §4.13): the most rounding can cost. */
const T_HALF_STEP = 175 / 65535 / 2;
const RH_HALF_STEP = 100 / 65535 / 2;

/** A clock whose sleeps advance time at once, so datasheet timings are exact and tests are fast. */
function virtualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

function rig(options: { timeScale?: number; clock?: Clock; timeoutMs?: number; repeatability?: 'high' | 'medium' | 'low' } = {}) {
  const clock = options.clock ?? virtualClock();
  const environment = new AdjustableEnvironment();
  const model = new Sht31Model({ environment, clock, timeScale: options.timeScale ?? 1 });
  const segment = new SimI2cSegment(1, { timeoutMs: options.timeoutMs ?? 1000 });
  segment.attach(ADDRESS, model);
  const bus = segment.open();
  const driver = new Sht31Driver({ bus, address: ADDRESS, clock, repeatability: options.repeatability });
  return { clock, environment, model, segment, bus, driver };
}

describe('Sht31Model on its own', () => {
  it('encodes a measurement as datasheet words with CRC (the §4.12 vector 0xBEEF -> 0x92)', () => {
    const clock = virtualClock();
    // Conditions chosen so both raw words are 0xBEEF (48879) by §4.13.
    const environment = constantEnvironment({
      temperatureCelsius: -45 + (175 * 48879) / 65535,
      humidityPercent: (100 * 48879) / 65535,
      pressureHpa: 1013.25,
    });
    const model = new Sht31Model({ environment, clock, timeScale: 0 });
    model.write(Uint8Array.of(0x24, 0x00));
    expect([...model.read(6)]).toEqual([0xbe, 0xef, 0x92, 0xbe, 0xef, 0x92]);
  });

  it('NACKs reads while converting, for the datasheet maximum time (Table 4)', () => {
    const clock = virtualClock();
    const model = new Sht31Model({ environment: constantEnvironment(), clock, timeScale: 1 });
    model.write(Uint8Array.of(0x24, 0x00)); // high repeatability: max 15.5 ms
    expect(() => model.read(6)).toThrow(ModelNack);
    clock.advance(15);
    expect(() => model.read(6)).toThrow(ModelNack);
    clock.advance(0.5);
    expect(model.read(6)).toHaveLength(6);
    // The result is sent once; another read has nothing to send.
    expect(() => model.read(6)).toThrow(ModelNack);

    model.write(Uint8Array.of(0x24, 0x16)); // low repeatability: max 4.5 ms
    clock.advance(4.4);
    expect(() => model.read(6)).toThrow(ModelNack);
    clock.advance(0.1);
    expect(model.read(6)).toHaveLength(6);
  });

  it('NACKs a read header during conversion at the bus level too', async () => {
    const clock = virtualClock();
    const { bus } = rig({ clock });
    await bus.write(ADDRESS, Uint8Array.of(0x24, 0x0b)); // medium repeatability: max 6.5 ms
    await expect(bus.read(ADDRESS, 6)).rejects.toBeInstanceOf(I2cNackError);
    clock.advance(6.5);
    await expect(bus.read(ADDRESS, 6)).resolves.toHaveLength(6);
  });

  it('NACKs unknown commands, reads with nothing pending and writes while busy', () => {
    const clock = virtualClock();
    const model = new Sht31Model({ environment: constantEnvironment(), clock, timeScale: 1 });
    expect(() => model.read(3)).toThrow(ModelNack);
    expect(() => model.write(Uint8Array.of(0x12, 0x34))).toThrow(ModelNack);
    model.write(Uint8Array.of(0x24, 0x00));
    expect(() => model.write(Uint8Array.of(0x30, 0xa2))).toThrow(ModelNack);
  });

  it('reports the status register with CRC, reset flags per Table 17', () => {
    const model = new Sht31Model({ environment: constantEnvironment(), clock: virtualClock(), timeScale: 0 });
    model.write(Uint8Array.of(0xf3, 0x2d));
    // After power-up: alert pending (bit 15) and reset detected (bit 4); CRC 0xE1 worked by hand.
    expect([...model.read(3)]).toEqual([0x80, 0x10, 0xe1]);

    model.write(Uint8Array.of(0x30, 0x41)); // clear status
    model.write(Uint8Array.of(0xf3, 0x2d));
    // All clear: 0x0000 with the hand-worked CRC 0x81.
    expect([...model.read(3)]).toEqual([0x00, 0x00, 0x81]);

    model.write(Uint8Array.of(0x30, 0x6d)); // heater on
    model.write(Uint8Array.of(0xf3, 0x2d));
    expect(model.read(3)[0]).toBe(0x20); // bit 13

    model.write(Uint8Array.of(0x30, 0xa2)); // soft reset: heater off, reset detected again
    model.write(Uint8Array.of(0xf3, 0x2d));
    expect([...model.read(3)]).toEqual([0x80, 0x10, 0xe1]);
  });
});

describe('Sht31Driver against Sht31Model', () => {
  it('reads back the conditions it is given within half a raw step', async () => {
    const { environment, driver } = rig();
    await driver.init();
    for (const [temperatureCelsius, humidityPercent] of [
      [23.4, 56.7],
      [-39.5, 0.3],
      [124.2, 99.9],
      [0, 50],
    ] as const) {
      environment.set({ temperatureCelsius, humidityPercent });
      const sample = await driver.read();
      expect(Math.abs(sample.temperature_celsius! - temperatureCelsius)).toBeLessThanOrEqual(T_HALF_STEP + 1e-9);
      expect(Math.abs(sample.humidity_percent! - humidityPercent)).toBeLessThanOrEqual(RH_HALF_STEP + 1e-9);
    }
    expect(driver.kind).toBe('sht31');
    expect(driver.quantities).toEqual(['temperature_celsius', 'humidity_percent']);
  });

  it('accepts a chip at the very ends of its range, whose raw words decode just beyond them', async () => {
    const { environment, driver } = rig();
    await driver.init();
    // −40 °C and 125 °C round to raw 1872 and 63663, which decode to −40.0011 and 125.0011 °C.
    for (const temperatureCelsius of [-40, 125]) {
      environment.set({ temperatureCelsius, humidityPercent: 50 });
      const sample = await driver.read();
      expect(Math.abs(sample.temperature_celsius! - temperatureCelsius)).toBeLessThanOrEqual(T_HALF_STEP + 1e-9);
    }
  });

  it('waits long enough for every repeatability with exact datasheet timing', async () => {
    for (const repeatability of ['high', 'medium', 'low'] as const) {
      const { clock, environment, driver } = rig({ repeatability });
      environment.set({ temperatureCelsius: 18.25, humidityPercent: 61 });
      await driver.init();
      const before = clock.now();
      const sample = await driver.read();
      const expectedMaxMs = { high: 15.5, medium: 6.5, low: 4.5 }[repeatability];
      // No polling needed: the driver's first read lands exactly at the datasheet maximum.
      expect(clock.now() - before).toBe(expectedMaxMs);
      expect(Math.abs(sample.temperature_celsius! - 18.25)).toBeLessThanOrEqual(T_HALF_STEP + 1e-9);
    }
  });

  it('polls through NACKs when the conversion runs a little long', async () => {
    // 1.2 x 15.5 ms = 18.6 ms: the driver's 15.5 ms wait falls short and it must retry.
    const { clock, environment, driver } = rig({ timeScale: 1.2 });
    environment.set({ temperatureCelsius: 30, humidityPercent: 20 });
    await driver.init();
    const before = clock.now();
    const sample = await driver.read();
    expect(clock.now() - before).toBeGreaterThan(18.6 - 1e-9);
    expect(Math.abs(sample.humidity_percent! - 20)).toBeLessThanOrEqual(RH_HALF_STEP + 1e-9);
  });

  it('gives up with ChipConversionTimeoutError when the chip never finishes', async () => {
    const { driver } = rig({ timeScale: 10 });
    await driver.init();
    await expect(driver.read()).rejects.toBeInstanceOf(ChipConversionTimeoutError);
  });

  it('rejects a measurement with a bad CRC, naming the word', async () => {
    const { model, driver } = rig();
    await driver.init();
    model.setFault('crc');
    const error = await driver.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChipCrcError);
    expect((error as Error).message).toContain('temperature');
  });

  it('rejects a status word with a bad CRC during init', async () => {
    const { model, driver } = rig();
    model.setFault('crc');
    await expect(driver.init()).rejects.toBeInstanceOf(ChipCrcError);
  });

  it('rejects an implausible temperature (raw 0xFFFF = 130 °C)', async () => {
    const { model, driver } = rig();
    await driver.init();
    model.setFault('implausible');
    const error = await driver.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImplausibleValueError);
    expect((error as ImplausibleValueError).quantity).toBe('temperature_celsius');
    expect((error as ImplausibleValueError).value).toBe(130);
  });

  it('passes a NACKed bus through as I2cNackError', async () => {
    const { segment, driver } = rig();
    await driver.init();
    segment.setFault(ADDRESS, 'nack');
    await expect(driver.read()).rejects.toBeInstanceOf(I2cNackError);
    await expect(driver.init()).rejects.toBeInstanceOf(I2cNackError);
  });

  it('passes a stuck bus through as I2cTimeoutError', async () => {
    const { segment, driver } = rig({ timeoutMs: 20 });
    await driver.init();
    segment.setFault(ADDRESS, 'stuck');
    await expect(driver.read()).rejects.toBeInstanceOf(I2cTimeoutError);
  });

  it('recovers with init + read once a fault is cleared', async () => {
    const { segment, model, environment, driver } = rig({ timeoutMs: 20 });
    environment.set({ temperatureCelsius: 12.5, humidityPercent: 33 });
    await driver.init();
    for (const inject of [() => model.setFault('crc'), () => model.setFault('implausible'), () => segment.setFault(ADDRESS, 'stuck')]) {
      inject();
      await expect(driver.read()).rejects.toBeInstanceOf(HardwareError);
      model.setFault(undefined);
      segment.setFault(ADDRESS, undefined);
      await driver.init();
      const sample = await driver.read();
      expect(Math.abs(sample.temperature_celsius! - 12.5)).toBeLessThanOrEqual(T_HALF_STEP + 1e-9);
      expect(Math.abs(sample.humidity_percent! - 33)).toBeLessThanOrEqual(RH_HALF_STEP + 1e-9);
    }
  });

  it('refuses read() before init() with a plain Error', async () => {
    const { driver } = rig();
    const error = await driver.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(HardwareError);
  });

  it('gives a chip a moment between the status command and its answer, and retries a NACK there', async () => {
    // A chip that NACKs the status read until 1.5 ms after the command: an immediate read failed init().
    const clock = virtualClock();
    const chip = new Sht31Model({ environment: constantEnvironment(), clock, timeScale: 0 });
    let statusAskedAt: number | undefined;
    const slowStatus: I2cDeviceModel = {
      write: (data) => {
        chip.write(data);
        statusAskedAt = data[0] === 0xf3 && data[1] === 0x2d ? clock.now() : undefined;
      },
      read: (length) => {
        if (statusAskedAt !== undefined && clock.now() - statusAskedAt < 1.5) throw new ModelNack('status not ready');
        return chip.read(length);
      },
    };
    const segment = new SimI2cSegment(1);
    segment.attach(ADDRESS, slowStatus);
    const driver = new Sht31Driver({ bus: segment.open(), address: ADDRESS, clock });
    await driver.init();
    expect(await driver.read()).toHaveProperty('temperature_celsius');
  });

  it('gives up on a status read that is never answered with ChipConversionTimeoutError', async () => {
    const chip = new Sht31Model({ environment: constantEnvironment(), clock: virtualClock(), timeScale: 0 });
    let statusAsked = false;
    const mute: I2cDeviceModel = {
      write: (data) => {
        chip.write(data);
        statusAsked = data[0] === 0xf3 && data[1] === 0x2d;
      },
      read: (length) => {
        if (statusAsked) throw new ModelNack('never ready');
        return chip.read(length);
      },
    };
    const segment = new SimI2cSegment(1);
    segment.attach(ADDRESS, mute);
    const driver = new Sht31Driver({ bus: segment.open(), address: ADDRESS, clock: virtualClock() });
    await expect(driver.init()).rejects.toBeInstanceOf(ChipConversionTimeoutError);
  });

  it('refuses a chip whose status does not show the soft reset', async () => {
    // Something at 0x44 that accepts any write and answers 0x0000 with a valid CRC (0x81).
    const impostor: I2cDeviceModel = { write: () => {}, read: () => Uint8Array.of(0x00, 0x00, 0x81) };
    const segment = new SimI2cSegment(1);
    segment.attach(ADDRESS, impostor);
    const driver = new Sht31Driver({ bus: segment.open(), address: ADDRESS, clock: virtualClock() });
    await expect(driver.init()).rejects.toBeInstanceOf(ChipIdentityError);
  });

  it('adds noise of the datasheet repeatability when given a random source', async () => {
    const clock = virtualClock();
    const model = new Sht31Model({ environment: constantEnvironment(), clock, timeScale: 0, random: createRandom(7) });
    const segment = new SimI2cSegment(1);
    segment.attach(ADDRESS, model);
    const driver = new Sht31Driver({ bus: segment.open(), address: ADDRESS, clock });
    await driver.init();
    const temperatures: number[] = [];
    for (let i = 0; i < 200; i++) temperatures.push((await driver.read()).temperature_celsius!);
    const mean = temperatures.reduce((a, b) => a + b, 0) / temperatures.length;
    const sd = Math.sqrt(temperatures.reduce((a, b) => a + (b - mean) ** 2, 0) / temperatures.length);
    // ROOM is 21.5 °C; high repeatability is 0.04 °C at 3σ (datasheet Table 2), so σ ≈ 0.013.
    expect(Math.abs(mean - 21.5)).toBeLessThan(0.01);
    expect(sd).toBeGreaterThan(0.005);
    expect(sd).toBeLessThan(0.03);
  });

  it('works with real timing on the system clock', async () => {
    const { environment, driver } = rig({ clock: systemClock, timeScale: 1 });
    environment.set({ temperatureCelsius: 26.75, humidityPercent: 48.5 });
    await driver.init();
    // The chip NACKs a read until its 15.5 ms conversion is done, so right values mean the driver
    // waited it out on the real clock; how long it waits is exact on the virtual clock above.
    const sample = await driver.read();
    expect(Math.abs(sample.temperature_celsius! - 26.75)).toBeLessThanOrEqual(T_HALF_STEP + 1e-9);
    expect(Math.abs(sample.humidity_percent! - 48.5)).toBeLessThanOrEqual(RH_HALF_STEP + 1e-9);
  });
});
