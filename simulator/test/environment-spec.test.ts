import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@iot/common/config';
import { describe, expect, it } from 'vitest';
import { environmentFromSpec } from '../src/environment/environment-spec.ts';
import { makeTempDir } from '@iot/harness/processes';

describe('SIM_ENVIRONMENT', () => {
  it('room is constant room conditions', () => {
    const room = environmentFromSpec('room');
    expect(room.at(0)).toEqual(room.at(86_400_000));
    expect(room.at(0).temperatureCelsius).toBe(21.5);
  });

  it('daily:<seconds> is a cycle of that period, ±4 °C around room temperature', () => {
    const day = environmentFromSpec('daily:600');
    const temperatures = Array.from({ length: 60 }, (_, i) => day.at(i * 10_000).temperatureCelsius);
    expect(Math.max(...temperatures)).toBeCloseTo(25.5, 1);
    expect(Math.min(...temperatures)).toBeCloseTo(17.5, 1);
    expect(day.at(123_000).temperatureCelsius).toBeCloseTo(day.at(723_000).temperatureCelsius, 6);
  });

  it('csv:<path> replays a recording from now, interpolating between rows', () => {
    const dir = makeTempDir('csv');
    try {
      const file = join(dir.path, 'garden.csv');
      writeFileSync(file, 'time_s,temperature_celsius,humidity_percent,pressure_hpa\n0,10,80,1000\n10,20,60,1010\n');
      const replay = environmentFromSpec(`csv:${file}`, 1_000_000);
      expect(replay.at(1_005_000)).toEqual({ temperatureCelsius: 15, humidityPercent: 70, pressureHpa: 1005 });
    } finally {
      dir.remove();
    }
  });

  it('reports mistakes as configuration errors naming SIM_ENVIRONMENT', () => {
    expect(() => environmentFromSpec('tropical')).toThrow(ConfigError);
    expect(() => environmentFromSpec('tropical')).toThrow('SIM_ENVIRONMENT: "tropical" is not one of room, daily, daily:<period seconds> or csv:<path to recording>');
    expect(() => environmentFromSpec('daily:-5')).toThrow('the period must be a positive number of seconds');
    expect(() => environmentFromSpec('csv:/no/such/file.csv')).toThrow('SIM_ENVIRONMENT: cannot read /no/such/file.csv');
  });
});
