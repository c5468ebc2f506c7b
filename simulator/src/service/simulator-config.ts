import { ConfigError, env, parseEnv, z } from '@iot/common/config';
import { environmentFromSpec } from '../environment/environment-spec.ts';
import { DEFAULT_HARDWARE_PORT } from '../remote/remote-protocol.ts';
import { type ChipPlacement, parseChipList } from './chip-list.ts';

/** Env vars of the simulator service (docs/hardware-contracts.md §14). */
export const simulatorEnv = {
  /** Address both servers bind; containers set 0.0.0.0. */
  SIM_BIND: z.string().prefault('127.0.0.1'),
  /** TCP port of the remote hardware protocol (HARDWARE=remote devices connect here); 0 picks a free one. */
  SIM_HARDWARE_PORT: env.integer(0, 65535).prefault(String(DEFAULT_HARDWARE_PORT)),
  /** HTTP port of the control API; 0 picks a free one. */
  SIM_CONTROL_PORT: env.integer(0, 65535).prefault('7301'),
  /** Chips every simulated device gets, in the syntax of SENSORS. */
  SIM_CHIPS: z
    .string()
    .prefault('bme280@0x76,sht31@0x44')
    .transform((text, ctx): ChipPlacement[] => {
      const { chips, problems } = parseChipList(text);
      for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
      return chips;
    }),
  /** The bus the chips sit on (/dev/i2c-N on a Pi); devices' I2C_BUS should match. */
  SIM_I2C_BUS: env.integer(0, 22).prefault('1'),
  /** What every device's chips sense: `room`, `daily`, `daily:<seconds>` or `csv:<path>`. */
  SIM_ENVIRONMENT: z
    .string()
    .prefault('room')
    .superRefine((spec, ctx) => {
      try {
        environmentFromSpec(spec);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems) ctx.addIssue({ code: 'custom', message: problem.replace(/^SIM_ENVIRONMENT: /, '') });
      }
    }),
  /** Base seed; each device's seed derives from it and the device's name. */
  SIM_SEED: env.integer(0, 2 ** 31 - 1).prefault('1'),
  /** Devices the simulator holds; the next new name is refused. */
  SIM_MAX_DEVICES: env.integer(1, 100_000).prefault('1000'),
};

export const simulatorConfigSchema = z.object(simulatorEnv).superRefine((config, ctx) => {
  if (config.SIM_HARDWARE_PORT !== 0 && config.SIM_HARDWARE_PORT === config.SIM_CONTROL_PORT) {
    ctx.addIssue({ code: 'custom', path: ['SIM_CONTROL_PORT'], message: `must differ from SIM_HARDWARE_PORT (both are ${config.SIM_CONTROL_PORT})` });
  }
});
export type SimulatorConfig = z.infer<typeof simulatorConfigSchema>;

export function parseSimulatorConfig(environment: NodeJS.ProcessEnv): SimulatorConfig {
  return parseEnv('simulator', simulatorConfigSchema, environment);
}
