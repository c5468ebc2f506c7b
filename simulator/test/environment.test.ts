import { describe, expect, it } from 'vitest';
import { CsvRecordingError, csvEnvironment, dailyCycle, parseCsvRecording, ramp } from '../src/environment/index.ts';

const HOUR = 3_600_000;

describe('dailyCycle', () => {
  const cycle = dailyCycle({ meanC: 15, amplitudeC: 5, meanHumidityPercent: 60, humidityAmplitudePercent: 20, pressureHpa: 1005 });

  it('peaks at 15:00 UTC, bottoms out at 03:00 and crosses the mean at 09:00 and 21:00', () => {
    const day = Date.UTC(2024, 5, 1);
    expect(cycle.at(day + 15 * HOUR).temperatureCelsius).toBeCloseTo(20, 9);
    expect(cycle.at(day + 3 * HOUR).temperatureCelsius).toBeCloseTo(10, 9);
    expect(cycle.at(day + 9 * HOUR).temperatureCelsius).toBeCloseTo(15, 9);
    expect(cycle.at(day + 21 * HOUR).temperatureCelsius).toBeCloseTo(15, 9);
    // Halfway between mean and peak in phase (60° before the peak): 15 + 5·cos 60° = 17.5.
    expect(cycle.at(day + 11 * HOUR).temperatureCelsius).toBeCloseTo(17.5, 9);
  });

  it('moves relative humidity against temperature and keeps pressure', () => {
    const day = Date.UTC(2024, 5, 1);
    expect(cycle.at(day + 15 * HOUR)).toEqual({ temperatureCelsius: 20, humidityPercent: 40, pressureHpa: 1005 });
    expect(cycle.at(day + 3 * HOUR).humidityPercent).toBeCloseTo(80, 9);
  });

  it('honours a custom period and peak, and clamps humidity to 0..100', () => {
    const fast = dailyCycle({ meanC: 0, amplitudeC: 10, periodMs: 60_000, peakAtMs: 1_000, meanHumidityPercent: 90, humidityAmplitudePercent: 30 });
    expect(fast.at(61_000).temperatureCelsius).toBeCloseTo(10, 9);
    expect(fast.at(31_000).temperatureCelsius).toBeCloseTo(-10, 9);
    expect(fast.at(31_000).humidityPercent).toBe(100);
    expect(() => dailyCycle({ meanC: 0, amplitudeC: 1, periodMs: 0 })).toThrow(RangeError);
  });
});

describe('ramp', () => {
  const from = { temperatureCelsius: 10, humidityPercent: 80, pressureHpa: 1000 };
  const to = { temperatureCelsius: 30, humidityPercent: 40, pressureHpa: 1010 };
  const env = ramp(from, to, 10_000, 5_000);

  it('holds before, interpolates during and holds after', () => {
    expect(env.at(0)).toEqual(from);
    expect(env.at(5_000)).toEqual(from);
    expect(env.at(7_500)).toEqual({ temperatureCelsius: 15, humidityPercent: 70, pressureHpa: 1002.5 });
    expect(env.at(10_000)).toEqual({ temperatureCelsius: 20, humidityPercent: 60, pressureHpa: 1005 });
    expect(env.at(15_000)).toEqual(to);
    expect(env.at(1e12)).toEqual(to);
  });

  it('steps at once with a zero duration', () => {
    const step = ramp(from, to, 0, 5_000);
    expect(step.at(4_999)).toEqual(from);
    expect(step.at(5_000)).toEqual(to);
  });
});

const RECORDING = `time_s,temperature_celsius,humidity_percent,pressure_hpa
0,20,50,1000
10,22,40,1002

30,18,60,998
`;

describe('CSV replay', () => {
  it('parses rows in header order, skipping blank lines', () => {
    const recording = parseCsvRecording('pressure_hpa,time_s,humidity_percent,temperature_celsius\r\n1000,0,50,20\r\n1001.5,2.5,51,21.25\r\n');
    expect(recording.rows).toEqual([
      { timeS: 0, temperatureCelsius: 20, humidityPercent: 50, pressureHpa: 1000 },
      { timeS: 2.5, temperatureCelsius: 21.25, humidityPercent: 51, pressureHpa: 1001.5 },
    ]);
  });

  it('interpolates linearly from startMs and holds the last row', () => {
    const env = csvEnvironment(parseCsvRecording(RECORDING), { startMs: 1_000_000 });
    expect(env.at(0)).toEqual({ temperatureCelsius: 20, humidityPercent: 50, pressureHpa: 1000 });
    expect(env.at(1_005_000)).toEqual({ temperatureCelsius: 21, humidityPercent: 45, pressureHpa: 1001 });
    expect(env.at(1_010_000)).toEqual({ temperatureCelsius: 22, humidityPercent: 40, pressureHpa: 1002 });
    // A quarter of the way from 10 s to 30 s: 22 - 4/4, 40 + 20/4, 1002 - 4/4.
    expect(env.at(1_015_000)).toEqual({ temperatureCelsius: 21, humidityPercent: 45, pressureHpa: 1001 });
    expect(env.at(1_030_000)).toEqual({ temperatureCelsius: 18, humidityPercent: 60, pressureHpa: 998 });
    expect(env.at(9_999_999_999)).toEqual({ temperatureCelsius: 18, humidityPercent: 60, pressureHpa: 998 });
  });

  it('loops with the last row time as the period', () => {
    const env = csvEnvironment(parseCsvRecording(RECORDING), { startMs: 0, loop: true });
    expect(env.at(35_000)).toEqual(env.at(5_000));
    expect(env.at(35_000).temperatureCelsius).toBe(21);
    expect(env.at(60_000)).toEqual({ temperatureCelsius: 20, humidityPercent: 50, pressureHpa: 1000 });
  });

  it('replays a single row as constant conditions', () => {
    const env = csvEnvironment(parseCsvRecording('time_s,temperature_celsius,humidity_percent,pressure_hpa\n0,1,2,3\n'), { startMs: 0, loop: true });
    expect(env.at(123_456)).toEqual({ temperatureCelsius: 1, humidityPercent: 2, pressureHpa: 3 });
  });

  const header = 'time_s,temperature_celsius,humidity_percent,pressure_hpa';
  it.each([
    ['', 1, /empty/],
    ['0,20,50,1000\n', 1, /unknown column "0"/],
    ['time_s,temperature_celsius,humidity_percent\n0,1,2\n', 1, /missing column "pressure_hpa"/],
    ['time_s,time_s,temperature_celsius,humidity_percent,pressure_hpa\n', 1, /"time_s" appears 2 times/],
    [`${header}\n`, 1, /no rows/],
    [`${header}\n0,20,50,1000\n5,21,abc,1000\n`, 3, /humidity_percent "abc" is not a number/],
    [`${header}\n0,20,50,1000\n5,21,,1000\n`, 3, /humidity_percent "" is not a number/],
    [`${header}\n0,20,50\n`, 2, /has 3 values, the header names 4/],
    [`${header}\n0,20,50,1000\n\n0,21,50,1000\n`, 4, /time_s 0 does not come after 0/],
    [`${header}\n-1,20,50,1000\n`, 2, /time_s -1 is negative/],
  ])('rejects bad CSV %#, naming line %i', (text, line, problem) => {
    let caught: unknown;
    try {
      parseCsvRecording(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CsvRecordingError);
    expect((caught as CsvRecordingError).line).toBe(line);
    expect((caught as Error).message).toMatch(problem);
    expect((caught as Error).message).toContain(`line ${line}`);
  });
});
