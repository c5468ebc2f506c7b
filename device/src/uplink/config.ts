import { ConfigError, env, parseEnv, type TopicEnvConfig, topicEnv, topicSchemeFrom, z } from '@iot/common/config';
import { checkMqttEnv, mqttEnv } from '@iot/common/mqtt-env';
import { isValidDeviceId, MAX_PAYLOAD_BYTES, type TopicScheme } from '@iot/common/protocol';
import { hardwareEnv, redisEnv } from '../device-config.ts';
import { sensorEnv } from '../sensor/config.ts';

/**
 * Env vars of the uplink (mqtthandler). Broker, topic and balena names are the original system's
 * (docs/original-system.md §7, §8, §10); the UPLINK_* variables tune the end-to-end delivery (docs/delivery-guarantee.md §11).
 */
export const uplinkEnv = {
  ...redisEnv,
  ...mqttEnv,
  ...topicEnv,
  HARDWARE: hardwareEnv.HARDWARE,
  /**
   * MQTT protocol level: 4 is MQTT 3.1.1, 5 is MQTT 5. The backend's broker (aedes 1.x) refuses
   * level 5 with "unacceptable protocol version", so 3.1.1 is the default; Mosquitto and EMQX speak both.
   */
  MQTT_PROTOCOL_VERSION: env.oneOf(['4', '5']).prefault('4').transform((v) => (v === '5' ? 5 : 4)),
  /** The device id; balena sets it. Required by the uplink (checked in {@link checkUplinkEnv}). */
  BALENA_DEVICE_UUID: z.string().optional(),
  BALENA_DEVICE_TYPE: z.string().max(100).optional(),
  BALENA_APP_ID: z.string().max(100).optional(),
  BALENA_APP_NAME: z.string().max(200).optional(),
  /** Where the balena supervisor listens and its key; both needed to reboot a real device. */
  BALENA_SUPERVISOR_ADDRESS: z.string().optional(),
  BALENA_SUPERVISOR_API_KEY: z.string().optional(),
  /** The sensor's default interval, so the status can report the effective one when Redis holds none. */
  INTERVAL_SECONDS: sensorEnv.INTERVAL_SECONDS,
  /** Entries per batch; the protocol allows 10 000. */
  UPLINK_BATCH_MAX_COUNT: env.integer(1, 10_000).prefault('500'),
  /** Bytes per batch payload; at most the protocol's payload limit, so the receiver never refuses a batch for its size. */
  UPLINK_BATCH_MAX_BYTES: env.integer(1024, MAX_PAYLOAD_BYTES).prefault(String(128 * 1024)),
  /** Batches in flight at once; acks may come out of order, the cursor moves over the acked prefix (docs/delivery-guarantee.md §1). */
  UPLINK_WINDOW: env.integer(1, 64).prefault('4'),
  /** Seconds to wait for the receiver's ack before the batch is published again from the cursor. */
  UPLINK_ACK_TIMEOUT_SECONDS: env.number(0.05, 3600).prefault('10'),
  /** Confirmed entries kept in the stream behind the cursor, for the local dashboard. */
  UPLINK_HISTORY: env.integer(0, 1_000_000).prefault('10000'),
  /** Seconds between status publications (besides on connect and when the backlog empties or builds up). */
  UPLINK_STATUS_SECONDS: env.number(1, 86_400).prefault('30'),
};

const uplinkObject = z.object(uplinkEnv);
export type UplinkEnvConfig = z.infer<typeof uplinkObject>;

/** Cross-field rules: TLS files and pairs (all problems together), a valid device id, topics that differ. */
export function checkUplinkEnv(config: UplinkEnvConfig, ctx: z.RefinementCtx): void {
  checkMqttEnv(config, ctx);
  const id = config.BALENA_DEVICE_UUID;
  if (id === undefined) {
    ctx.addIssue({ code: 'custom', path: ['BALENA_DEVICE_UUID'], message: 'is required: the device id under which readings are sent (balena sets it)' });
  } else if (!isValidDeviceId(id)) {
    ctx.addIssue({ code: 'custom', path: ['BALENA_DEVICE_UUID'], message: 'must be 1–64 of A–Z a–z 0–9 _ - and not "broadcast"' });
  }
  // Each template was checked on its own; whether two are the same needs them all (and all valid).
  if (Object.keys(topicEnv).some((name) => typeof config[name as keyof UplinkEnvConfig] !== 'string')) return;
  try {
    topicSchemeFrom(config as TopicEnvConfig);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) ctx.addIssue({ code: 'custom', message: problem });
  }
}

/**
 * The cross-field rules run even when single variables are wrong (zod skips refinements after
 * such issues by default), so a person sees every problem at once.
 */
export const uplinkConfigSchema = uplinkObject.superRefine(checkUplinkEnv, {
  when: (payload) => typeof payload.value === 'object' && payload.value !== null,
});
/** A checked uplink config: the device id is known to be present and valid. */
export type UplinkConfig = UplinkEnvConfig & { BALENA_DEVICE_UUID: string };

export function parseUplinkConfig(environment: NodeJS.ProcessEnv): UplinkConfig {
  return parseEnv('mqtthandler', uplinkConfigSchema, environment) as UplinkConfig;
}

/** The topic scheme of a checked config. */
export function uplinkTopics(config: UplinkEnvConfig): TopicScheme {
  return topicSchemeFrom(config as TopicEnvConfig, 'mqtthandler');
}
