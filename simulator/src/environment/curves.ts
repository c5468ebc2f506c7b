import { type Conditions, type Environment, ROOM } from './environment.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface DailyCycleOptions {
  /** Mean temperature over one period, °C. */
  meanC: number;
  /** Half the peak-to-peak swing, °C. */
  amplitudeC: number;
  /** Length of one cycle; default one day. */
  periodMs?: number;
  /** Any moment (ms since the epoch) at which the temperature peaks; default 15:00 UTC. */
  peakAtMs?: number;
  /** Mean relative humidity, %RH; default that of {@link ROOM}. */
  meanHumidityPercent?: number;
  /**
   * Half the humidity swing, %RH; default 0. Relative humidity falls as the air warms, so humidity
   * peaks when temperature is lowest. Results are clamped to 0..100.
   */
  humidityAmplitudePercent?: number;
  /** Constant pressure, hPa; default that of {@link ROOM}. */
  pressureHpa?: number;
}

/** A sinusoidal day: warmest at `peakAtMs` (and every period from it), coolest half a period later. */
export function dailyCycle(options: DailyCycleOptions): Environment {
  const periodMs = options.periodMs ?? DAY_MS;
  if (!(periodMs > 0)) throw new RangeError(`dailyCycle: periodMs must be positive, got ${periodMs}`);
  const peakAtMs = options.peakAtMs ?? 15 * 60 * 60 * 1000;
  const meanHumidity = options.meanHumidityPercent ?? ROOM.humidityPercent;
  const humidityAmplitude = options.humidityAmplitudePercent ?? 0;
  const pressureHpa = options.pressureHpa ?? ROOM.pressureHpa;
  return {
    at(ms) {
      const phase = Math.cos((2 * Math.PI * (ms - peakAtMs)) / periodMs);
      return {
        temperatureCelsius: options.meanC + options.amplitudeC * phase,
        humidityPercent: Math.min(100, Math.max(0, meanHumidity - humidityAmplitude * phase)),
        pressureHpa,
      };
    },
  };
}

/**
 * A linear change from `from` (at `startMs`, ms since the epoch) to `to` over `durationMs`; `from`
 * holds before the start and `to` after the end.
 */
export function ramp(from: Conditions, to: Conditions, durationMs: number, startMs: number): Environment {
  if (!(durationMs >= 0)) throw new RangeError(`ramp: durationMs must be 0 or more, got ${durationMs}`);
  return {
    at(ms) {
      const fraction = durationMs === 0 ? (ms < startMs ? 0 : 1) : Math.min(1, Math.max(0, (ms - startMs) / durationMs));
      return interpolate(from, to, fraction);
    },
  };
}

/** Conditions `fraction` (0..1) of the way from `a` to `b`. */
export function interpolate(a: Conditions, b: Conditions, fraction: number): Conditions {
  const mix = (x: number, y: number) => x + (y - x) * fraction;
  return {
    temperatureCelsius: mix(a.temperatureCelsius, b.temperatureCelsius),
    humidityPercent: mix(a.humidityPercent, b.humidityPercent),
    pressureHpa: mix(a.pressureHpa, b.pressureHpa),
  };
}
