import { ConfigError, env, z } from '@iot/common/config';
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
  /**
   * `pi` on a Raspberry Pi; `sim` for simulated hardware in this process; `remote` for the
   * simulated hardware of the simulator service, over TCP. Defaults to the real thing so a Pi
   * never reports simulated data.
   */
  HARDWARE: env.oneOf(['pi', 'sim', 'remote'], { caseInsensitive: true }).prefault('pi'),
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
  /** HARDWARE=remote only (then required): host name of the simulator service, e.g. `simulator` in compose. */
  SIM_REMOTE_HOST: z.string().optional(),
  /** HARDWARE=remote only: the simulator's hardware port (its SIM_HARDWARE_PORT). */
  SIM_REMOTE_PORT: env.integer(1, 65535).prefault('7300'),
  /**
   * HARDWARE=remote only (then required): the simulated device's name on the simulator. The
   * sensor and the button container of one device name the same one, and so share one hardware.
   */
  SIM_REMOTE_DEVICE: z
    .string()
    // The simulator's DEVICE_NAME_PATTERN, written out: importing it would load simulator code on a Pi.
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1–64 of A–Z a–z 0–9 . _ -' })
    .optional(),
};

export interface RedisConfig {
  REDIS_HOST: string;
  REDIS_PORT: number;
  REDIS_DB: number;
}

export interface HardwareConfig {
  HARDWARE: 'pi' | 'sim' | 'remote';
  I2C_BUS: number;
  SENSORS: SensorSpec[];
  SIM_ENVIRONMENT: string;
  SIM_SEED: number;
  SIM_CONTROL_SOCKET?: string | undefined;
  SIM_REMOTE_HOST?: string | undefined;
  SIM_REMOTE_PORT: number;
  SIM_REMOTE_DEVICE?: string | undefined;
}

/** The variables HARDWARE=remote cannot do without, as config problems (add with `.superRefine(checkHardwareEnv)`). */
export function checkHardwareEnv(
  config: Pick<HardwareConfig, 'HARDWARE' | 'SIM_REMOTE_HOST' | 'SIM_REMOTE_DEVICE'>,
  ctx: z.RefinementCtx,
): void {
  for (const problem of remoteProblems(config)) ctx.addIssue({ code: 'custom', path: [problem.variable], message: problem.message });
}

function remoteProblems(config: Pick<HardwareConfig, 'HARDWARE' | 'SIM_REMOTE_HOST' | 'SIM_REMOTE_DEVICE'>): { variable: string; message: string }[] {
  if (config.HARDWARE !== 'remote') return [];
  const problems: { variable: string; message: string }[] = [];
  if (config.SIM_REMOTE_HOST === undefined) {
    problems.push({ variable: 'SIM_REMOTE_HOST', message: 'is required with HARDWARE=remote: the host name of the simulator service (e.g. simulator)' });
  }
  if (config.SIM_REMOTE_DEVICE === undefined) {
    problems.push({
      variable: 'SIM_REMOTE_DEVICE',
      message: 'is required with HARDWARE=remote: the simulated device this service uses; the sensor and button of one device name the same one',
    });
  }
  return problems;
}

/**
 * What to load for the configured HARDWARE: for `sim`, the simulated chips to place so that the
 * device has what SENSORS names; for `remote`, where the simulator is and which of its devices
 * to use (the simulator owns the chips, so SENSORS says only what the device expects, as on a Pi).
 * @throws ConfigError when HARDWARE=remote lacks SIM_REMOTE_HOST or SIM_REMOTE_DEVICE.
 */
export function simulationOf(config: HardwareConfig) {
  const problems = remoteProblems(config);
  if (problems.length > 0) throw new ConfigError('remote hardware', problems.map((p) => `${p.variable}: ${p.message}`));
  return {
    chips: config.SENSORS.map((s) => ({ kind: s.kind, busNumber: config.I2C_BUS, address: s.address })),
    seed: config.SIM_SEED,
    environment: config.SIM_ENVIRONMENT,
    ...(config.SIM_CONTROL_SOCKET === undefined ? {} : { controlSocket: config.SIM_CONTROL_SOCKET }),
    ...(config.HARDWARE === 'remote' ? { remote: { host: config.SIM_REMOTE_HOST!, port: config.SIM_REMOTE_PORT, device: config.SIM_REMOTE_DEVICE! } } : {}),
  };
}

export function describeSensors(specs: readonly SensorSpec[]): string {
  return specs.map(describe).join(', ');
}
