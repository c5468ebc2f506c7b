import { env, parseEnv, z } from '@iot/common/config';
import { checkHardwareEnv, hardwareEnv, redisEnv } from '../device-config.ts';

export const sensorEnv = {
  ...redisEnv,
  ...hardwareEnv,
  /** Seconds between readings when `measurement:interval` is unset (original default: 2). */
  INTERVAL_SECONDS: env.number(0, 86_400).prefault('2'),
  /** Readings held in memory while Redis cannot take them; the oldest are dropped beyond this. */
  SENSOR_BUFFER_CAPACITY: env.integer(1, 1_000_000).prefault('10000'),
};

export const sensorConfigSchema = z.object(sensorEnv).superRefine(checkHardwareEnv);
export type SensorConfig = z.infer<typeof sensorConfigSchema>;

export function parseSensorConfig(environment: NodeJS.ProcessEnv): SensorConfig {
  return parseEnv('sensor', sensorConfigSchema, environment);
}
