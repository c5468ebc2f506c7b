import { readFileSync } from 'node:fs';
import { env, z } from './env-config.ts';

/**
 * How any service reaches the broker, with the original system's env var names (docs/original-system.md §7).
 * There is no public default broker: unset means localhost.
 */
export const mqttEnv = {
  MQTT_HOST: z.string().prefault('localhost'),
  MQTT_PORT: env.integer(1, 65535).optional(),
  MQTT_KEEPALIVE_SECONDS: env.integer(5, 3600).prefault('60'),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  /**
   * A file holding the password (Docker and compose secrets, docs/containers.md §4), read once at
   * start-up; one trailing line break is dropped. Not together with MQTT_PASSWORD.
   */
  MQTT_PASSWORD_FILE: z.string().optional(),
  /** Accept a broker certificate that does not verify (development only). */
  MQTT_TLS_INSECURE: env.boolean().prefault('false'),
  MQTT_TLS_CA_CERTS: z.string().optional(),
  MQTT_TLS_CERTFILE: z.string().optional(),
  MQTT_TLS_KEYFILE: z.string().optional(),
};

export interface MqttEnvConfig {
  MQTT_HOST: string;
  MQTT_PORT?: number | undefined;
  MQTT_KEEPALIVE_SECONDS: number;
  MQTT_USERNAME?: string | undefined;
  MQTT_PASSWORD?: string | undefined;
  MQTT_PASSWORD_FILE?: string | undefined;
  MQTT_TLS_INSECURE: boolean;
  MQTT_TLS_CA_CERTS?: string | undefined;
  MQTT_TLS_CERTFILE?: string | undefined;
  MQTT_TLS_KEYFILE?: string | undefined;
}

/** Cross-field rules (add with `.superRefine(checkMqttEnv)`): TLS files exist, cert and key together. */
export function checkMqttEnv(config: MqttEnvConfig, ctx: z.RefinementCtx): void {
  if ((config.MQTT_TLS_CERTFILE === undefined) !== (config.MQTT_TLS_KEYFILE === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['MQTT_TLS_CERTFILE'], message: 'a client certificate needs its key: set both MQTT_TLS_CERTFILE and MQTT_TLS_KEYFILE, or neither' });
  }
  for (const key of ['MQTT_TLS_CA_CERTS', 'MQTT_TLS_CERTFILE', 'MQTT_TLS_KEYFILE'] as const) {
    const path = config[key];
    if (path === undefined) continue;
    try {
      readFileSync(path);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: [key], message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    }
  }
  if (config.MQTT_PASSWORD !== undefined && config.MQTT_PASSWORD_FILE !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['MQTT_PASSWORD_FILE'], message: 'set MQTT_PASSWORD or MQTT_PASSWORD_FILE, not both' });
  } else if (config.MQTT_PASSWORD_FILE !== undefined) {
    try {
      const password = readPasswordFile(config.MQTT_PASSWORD_FILE);
      if (password === '') ctx.addIssue({ code: 'custom', path: ['MQTT_PASSWORD_FILE'], message: `${config.MQTT_PASSWORD_FILE} is empty` });
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['MQTT_PASSWORD_FILE'], message: `cannot read ${config.MQTT_PASSWORD_FILE}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    }
  }
  if ((config.MQTT_PASSWORD !== undefined || config.MQTT_PASSWORD_FILE !== undefined) && config.MQTT_USERNAME === undefined) {
    ctx.addIssue({ code: 'custom', path: ['MQTT_USERNAME'], message: `${config.MQTT_PASSWORD === undefined ? 'MQTT_PASSWORD_FILE' : 'MQTT_PASSWORD'} is set but MQTT_USERNAME is not` });
  }
}

/** A secret file's content without the line break an editor or `echo` leaves at its end. */
function readPasswordFile(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

/** The password from MQTT_PASSWORD or MQTT_PASSWORD_FILE (checked by {@link checkMqttEnv}). */
export function mqttPassword(config: MqttEnvConfig): string | undefined {
  return config.MQTT_PASSWORD_FILE === undefined ? config.MQTT_PASSWORD : readPasswordFile(config.MQTT_PASSWORD_FILE);
}

export function usesTls(config: MqttEnvConfig): boolean {
  return config.MQTT_TLS_CA_CERTS !== undefined || config.MQTT_TLS_CERTFILE !== undefined || config.MQTT_TLS_INSECURE;
}

/** Connection options in the shape MQTT.js's connect() takes (TLS files read once, here). */
export function mqttConnection(config: MqttEnvConfig) {
  const tls = usesTls(config);
  const password = mqttPassword(config);
  return {
    host: config.MQTT_HOST,
    port: config.MQTT_PORT ?? (tls ? 8883 : 1883),
    protocol: tls ? ('mqtts' as const) : ('mqtt' as const),
    keepalive: config.MQTT_KEEPALIVE_SECONDS,
    // Otherwise MQTT.js builds a table of 65 536 two-byte Buffers on its first write (about 7 MB
    // of heap for the life of the process, a tenth of a small device's budget) to save one tiny
    // allocation per packet id or length it encodes.
    writeCache: false,
    ...(config.MQTT_USERNAME === undefined ? {} : { username: config.MQTT_USERNAME }),
    ...(password === undefined ? {} : { password }),
    ...(tls
      ? {
          rejectUnauthorized: !config.MQTT_TLS_INSECURE,
          ...(config.MQTT_TLS_CA_CERTS === undefined ? {} : { ca: readFileSync(config.MQTT_TLS_CA_CERTS) }),
          ...(config.MQTT_TLS_CERTFILE === undefined ? {} : { cert: readFileSync(config.MQTT_TLS_CERTFILE) }),
          ...(config.MQTT_TLS_KEYFILE === undefined ? {} : { key: readFileSync(config.MQTT_TLS_KEYFILE) }),
        }
      : {}),
  };
}
