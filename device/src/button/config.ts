import { env, parseEnv, z } from '@iot/common/config';
import { checkHardwareEnv, describeSensors, hardwareEnv, redisEnv } from '../device-config.ts';
import type { SensorSpec } from '../chips/sensor-spec.ts';
import { i2cPinConflict } from './i2c-pins.ts';

export const buttonEnv = {
  ...redisEnv,
  ...hardwareEnv,
  /**
   * BCM pin of the button. The original defaulted to GPIO 2, which is SDA of I2C bus 1 and breaks
   * every I2C sensor; GPIO 17 (header pin 11) is free on every Pi.
   */
  BUTTON_PIN: env.integer(0, 27).prefault('17'),
  BUTTON_PULL_UP_DOWN: env.oneOf(['UP', 'DOWN'], { caseInsensitive: true }).prefault('DOWN'),
  BUTTON_EVENT: env.oneOf(['RISING', 'FALLING', 'BOTH'], { caseInsensitive: true }).prefault('FALLING'),
  BUTTON_BOUNCE_MILLIS: env.integer(0, 10_000).prefault('20'),
};

/** Refuses a button pin that is SDA or SCL of the bus the sensors use. */
export function checkButtonPin(
  config: { BUTTON_PIN: number; I2C_BUS: number; SENSORS: readonly SensorSpec[] },
  ctx: z.RefinementCtx,
): void {
  if (config.SENSORS.length === 0) return;
  const conflict = i2cPinConflict(config.BUTTON_PIN, config.I2C_BUS);
  if (conflict !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['BUTTON_PIN'],
      message: `${conflict}, which the sensors (${describeSensors(config.SENSORS)}) use; wire the button to a free pin such as 17 and set BUTTON_PIN`,
    });
  }
}

export const buttonConfigSchema = z.object(buttonEnv).superRefine((config, ctx) => {
  checkButtonPin(config, ctx);
  checkHardwareEnv(config, ctx);
});
export type ButtonConfig = z.infer<typeof buttonConfigSchema>;

export function parseButtonConfig(environment: NodeJS.ProcessEnv): ButtonConfig {
  return parseEnv('startstopbutton', buttonConfigSchema, environment);
}
