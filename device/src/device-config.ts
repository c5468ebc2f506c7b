import { env, z } from '@iot/common/config';
import { describe, parseSensorSpecs, type SensorSpec } from './chips/sensor-spec.ts';

/**
 * Env vars every device service shares. Names follow the original system (docs/original-system.md §7, §9) where it
 * had one; defaults are the original's unless a safety reason says otherwise.
 */
export const redisEnv = {
  REDIS_HOST: z.string().prefault('localhost'),
  REDIS_PORT: env.integer(1, 65535).prefault('6379'),
  REDIS_DB: env.integer(0, 15).prefault('0'),
};

export const hardwareEnv = {
  /** `pi` on a Raspberry Pi; `sim` for simulated hardware. Defaults to the real thing so a Pi never reports simulated data. */
  HARDWARE: env.oneOf(['pi', 'sim'], { caseInsensitive: true }).prefault('pi'),
  I2C_BUS: env.integer(0, 22).prefault('1'),
  SENSORS: z
    .string()
    .prefault('bme280@0x76')
    .transform((text, ctx): SensorSpec[] => {
      const { specs, problems } = parseSensorSpecs(text);
      for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
      return specs;
    }),
  /** Simulation only: `room` (default), `daily` (a 24 h temperature/humidity cycle) or `csv:/path/to/recording.csv`. */
  SIM_ENVIRONMENT: z.string().prefault('room'),
  /** Simulation only: seed for noise and contact bounce. */
  SIM_SEED: env.integer(0, 2 ** 31 - 1).prefault('1'),
  /** Simulation only: unix socket path where tests reach the simulated hardware (buttons, faults, conditions); unset = none. */
  SIM_CONTROL_SOCKET: z.string().optional(),
};

export interface RedisConfig {
  REDIS_HOST: string;
  REDIS_PORT: number;
  REDIS_DB: number;
}

export interface HardwareConfig {
  HARDWARE: 'pi' | 'sim';
  I2C_BUS: number;
  SENSORS: SensorSpec[];
  SIM_ENVIRONMENT: string;
  SIM_SEED: number;
  SIM_CONTROL_SOCKET?: string | undefined;
}

/** The simulated chips to place so that a simulated device has what SENSORS names. */
export function simulationOf(config: HardwareConfig) {
  return {
    chips: config.SENSORS.map((s) => ({ kind: s.kind, busNumber: config.I2C_BUS, address: s.address })),
    seed: config.SIM_SEED,
    environment: config.SIM_ENVIRONMENT,
    ...(config.SIM_CONTROL_SOCKET === undefined ? {} : { controlSocket: config.SIM_CONTROL_SOCKET }),
  };
}

export function describeSensors(specs: readonly SensorSpec[]): string {
  return specs.map(describe).join(', ');
}
