import { env, parseEnv, topicEnv, z } from '@iot/common/config';
import { checkMqttEnv, mqttEnv } from '@iot/common/mqtt-env';
import { receiverEnv } from '../receiver/config.ts';

export const webAdminEnv = {
  ...mqttEnv,
  ...topicEnv,
  WEBADMIN_PORT: env.integer(1, 65535).prefault('8080'),
  /** Address to listen on; 127.0.0.1 keeps it local behind a TLS reverse proxy. */
  WEBADMIN_HOST: z.string().prefault('0.0.0.0'),
  /** Same format as the receiver's: mariadb://… or sqlite:/path; unset = SQLite in ./data. */
  DATABASE_URL: receiverEnv.DATABASE_URL,
  /** Connect to the broker to send commands (false: command endpoints answer 503). */
  WEBADMIN_MQTT: env.boolean().prefault('true'),
  MQTT_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1–64 of A–Z a–z 0–9 _ -' }).prefault('webadmin'),
  /** The first admin, created on start when no user exists yet. */
  WEBADMIN_ADMIN_USERNAME: z.string().optional(),
  WEBADMIN_ADMIN_PASSWORD: z.string().optional(),
  /** Mark the session cookie Secure: set when users reach the admin over HTTPS. */
  WEBADMIN_SECURE_COOKIES: env.boolean().prefault('false'),
};

export const webAdminConfigSchema = z.object(webAdminEnv).superRefine((config, ctx) => {
  checkMqttEnv(config, ctx);
  if ((config.WEBADMIN_ADMIN_USERNAME === undefined) !== (config.WEBADMIN_ADMIN_PASSWORD === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['WEBADMIN_ADMIN_USERNAME'], message: 'set both WEBADMIN_ADMIN_USERNAME and WEBADMIN_ADMIN_PASSWORD, or neither' });
  }
});
export type WebAdminConfig = z.infer<typeof webAdminConfigSchema>;

export function parseWebAdminConfig(environment: NodeJS.ProcessEnv): WebAdminConfig {
  return parseEnv('webadmin', webAdminConfigSchema, environment);
}
