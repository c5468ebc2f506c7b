import { env, parseEnv, topicEnv, z } from '@iot/common/config';
import { MAX_ORIGINAL_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES } from '@iot/common/protocol';
import { DEFAULT_LOGIN_LIMITS } from './login-throttle.ts';
import { DEFAULT_SESSION_QUEUE_LIMIT } from './session-queues.ts';

/** MQTT's own ceiling on a packet's remaining length (3.1.1 §2.2.3, 5.0 §1.5.5): 268,435,455 bytes. */
const MQTT_MAX_REMAINING_LENGTH = 268_435_455;

export const brokerEnv = {
  /** Bind address of every listener. */
  MQTT_HOST: z.string().prefault('0.0.0.0'),
  /** Plain MQTT over TCP (IANA port 1883). */
  MQTT_PORT: env.integer(1, 65535).prefault('1883'),
  /** MQTT over TLS (IANA 8883); the listener runs only when both files are configured. */
  MQTT_TLS_PORT: env.integer(1, 65535).prefault('8883'),
  MQTT_TLS_CERTFILE: z.string().optional(),
  MQTT_TLS_KEYFILE: z.string().optional(),
  /** MQTT over WebSocket (MQTT 3.1.1 §6); off unless a port is given. */
  MQTT_WS_PORT: env.integer(1, 65535).optional(),
  /** The credential file (see credentials.ts); required unless anonymous access is enabled. */
  MQTT_CREDENTIALS_FILE: z.string().optional(),
  /** Local development only: clients without a username connect with service rights. */
  MQTT_ALLOW_ANONYMOUS: env.boolean().prefault('false'),
  /** Largest PUBLISH payload on every topic but a device's `values`. */
  MQTT_MAX_PAYLOAD_BYTES: env.integer(1, MQTT_MAX_REMAINING_LENGTH).prefault(String(MAX_PAYLOAD_BYTES)),
  /** Largest payload on a device's `values` topic: an original device's whole backlog in one message (docs/protocol.md §9). */
  MQTT_MAX_ORIGINAL_PAYLOAD_BYTES: env.integer(1, MQTT_MAX_REMAINING_LENGTH).prefault(String(MAX_ORIGINAL_PAYLOAD_BYTES)),
  /** Failed logins a remote address, or a username, may have in a burst (login-throttle.ts). */
  MQTT_AUTH_FAILURE_BURST: env.integer(1, 1_000_000).prefault(String(DEFAULT_LOGIN_LIMITS.burst)),
  /** Seconds until one more failed login is allowed once the burst is used up. */
  MQTT_AUTH_FAILURE_REFILL_SECONDS: env.integer(1, 86_400).prefault(String(DEFAULT_LOGIN_LIMITS.refillMs / 1000)),
  /** QoS 1/2 messages a persistent session may hold (queued or unacknowledged) before publishers to it are held back. */
  MQTT_SESSION_QUEUE_LIMIT: env.integer(1, 10_000_000).prefault(String(DEFAULT_SESSION_QUEUE_LIMIT)),
  ...topicEnv,
};

export const brokerConfigSchema = z.object(brokerEnv).superRefine((config, ctx) => {
  if ((config.MQTT_TLS_CERTFILE === undefined) !== (config.MQTT_TLS_KEYFILE === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['MQTT_TLS_CERTFILE'], message: 'MQTT_TLS_CERTFILE and MQTT_TLS_KEYFILE must be set together (both or neither)' });
  }
  if (config.MQTT_CREDENTIALS_FILE === undefined && !config.MQTT_ALLOW_ANONYMOUS) {
    ctx.addIssue({
      code: 'custom',
      path: ['MQTT_CREDENTIALS_FILE'],
      message: 'is required (create one with backend/src/cli/mqtt-user.ts); only local development may run without it, with MQTT_ALLOW_ANONYMOUS=true',
    });
  }
  const ports = [
    ['MQTT_PORT', config.MQTT_PORT],
    ...(config.MQTT_TLS_CERTFILE === undefined ? [] : [['MQTT_TLS_PORT', config.MQTT_TLS_PORT] as const]),
    ...(config.MQTT_WS_PORT === undefined ? [] : [['MQTT_WS_PORT', config.MQTT_WS_PORT] as const]),
  ] as const;
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      if (ports[i]![1] === ports[j]![1]) ctx.addIssue({ code: 'custom', path: [ports[j]![0]], message: `must differ from ${ports[i]![0]} (both ${ports[i]![1]})` });
    }
  }
});

export type BrokerConfig = z.infer<typeof brokerConfigSchema>;

export function parseBrokerConfig(environment: NodeJS.ProcessEnv): BrokerConfig {
  return parseEnv('mqttserver', brokerConfigSchema, environment);
}

/**
 * Largest MQTT packet a connection may send before it is cut off (the equivalent of Mosquitto's
 * `max_packet_size`): the payload limit plus room for the rest of a PUBLISH — a topic of up to
 * 65,535 bytes with its 2-byte length, a packet id and MQTT 5 properties. Give it the largest
 * payload any topic admits (the `values` topic's): the fixed header the guard reads carries no
 * topic, so the policy then enforces each topic's payload limit exactly; this bound only keeps a
 * client from making the broker buffer ~256 MB.
 */
export function maxPacketBytes(maxPayloadBytes: number): number {
  return Math.min(maxPayloadBytes + 65_535 + 2 + 2 + 4096, MQTT_MAX_REMAINING_LENGTH);
}
