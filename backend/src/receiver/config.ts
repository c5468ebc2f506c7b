import { ConfigError, env, parseEnv, topicEnv, z } from '@iot/common/config';
import { checkMqttEnv, mqttEnv } from '@iot/common/mqtt-env';
import { MAX_ORIGINAL_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES } from '@iot/common/protocol';
import { parseDatabaseUrl } from '../db/database-config.ts';
import { DEFAULT_GROUP_COMMIT, type GroupCommitLimits } from './group-commit.ts';
import { limitsEnv } from './limits.ts';
import { DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_IN_FLIGHT_BYTES } from './receiver.ts';

export const receiverEnv = {
  ...mqttEnv,
  ...topicEnv,
  /** Stable client id: the broker keeps this receiver's session (and queued messages) under it. */
  MQTT_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1–64 of A–Z a–z 0–9 _ -' }).prefault('receiver'),
  /** 4 = MQTT 3.1.1 (works with every broker, aedes included); 5 = MQTT 5. */
  MQTT_PROTOCOL_VERSION: env.oneOf(['4', '5']).prefault('4'),
  /** Receivers with the same group share the load through a shared subscription ($share/<group>/...). */
  RECEIVER_SHARED_GROUP: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1–64 of A–Z a–z 0–9 _ -' }).optional(),
  /** Where the database is: mariadb://user:pass@host:port/db, or sqlite:/path/file.sqlite; unset = SQLite in ./data. */
  DATABASE_URL: z
    .string()
    .optional()
    .transform((url, ctx) => {
      try {
        return parseDatabaseUrl(url);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems) ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
    }),
  /** HTTP port of GET /health and GET /metrics (Prometheus) (0 = off). */
  RECEIVER_HEALTH_PORT: env.integer(0, 65535).prefault('0'),
  /** Largest payload on every topic but `values`. */
  RECEIVER_MAX_PAYLOAD_BYTES: env.integer(1024, 16 * 1024 * 1024).prefault(String(MAX_PAYLOAD_BYTES)),
  /** Largest original-format readings message (`values`): the original sends its whole backlog as one (docs/protocol.md §9). */
  RECEIVER_MAX_ORIGINAL_PAYLOAD_BYTES: env.integer(1024, 256 * 1024 * 1024).prefault(String(MAX_ORIGINAL_PAYLOAD_BYTES)),
  /** Messages in process at once, those waiting for a group transaction included; beyond it the receiver stops reading from the broker. */
  RECEIVER_MAX_CONCURRENT: env.integer(1, 100_000).prefault(String(DEFAULT_MAX_CONCURRENT)),
  /** Payload bytes of the messages in process at once; beyond it, too, the receiver stops reading. */
  RECEIVER_MAX_IN_FLIGHT_BYTES: env.integer(64 * 1024, 4 * 1024 * 1024 * 1024).prefault(String(DEFAULT_MAX_IN_FLIGHT_BYTES)),
  /** Batches in one group transaction (1 = every batch in its own transaction, as before group commit). */
  RECEIVER_GROUP_MAX_BATCHES: env.integer(1, 10_000).prefault(String(DEFAULT_GROUP_COMMIT.maxBatches)),
  /** Readings in one group transaction; a batch with more is stored on its own. */
  RECEIVER_GROUP_MAX_READINGS: env.integer(1, 1_000_000).prefault(String(DEFAULT_GROUP_COMMIT.maxReadings)),
  /** Payload bytes of the batches in one group transaction. */
  RECEIVER_GROUP_MAX_BYTES: env.integer(1024, 1024 * 1024 * 1024).prefault(String(DEFAULT_GROUP_COMMIT.maxBytes)),
  /** Group transactions at once. */
  RECEIVER_GROUP_WRITERS: env.integer(1, 64).prefault(String(DEFAULT_GROUP_COMMIT.writers)),
  /** Refresh the chart rollups in this process (one receiver at a time does, by a lease in the database). */
  RECEIVER_ROLLUPS: env.boolean().prefault('true'),
  /** How long the rollup lease lasts unrenewed: after a holder dies, another receiver takes over within this. */
  RECEIVER_ROLLUP_LEASE_SECONDS: env.integer(2, 3600).prefault('15'),
  /** What devices may send and how long rejections are kept (limits.ts). */
  ...limitsEnv,
};

export const receiverConfigSchema = z.object(receiverEnv).superRefine(checkMqttEnv);
export type ReceiverConfig = z.infer<typeof receiverConfigSchema>;

export function parseReceiverConfig(environment: NodeJS.ProcessEnv): ReceiverConfig {
  return parseEnv('receiver', receiverConfigSchema, environment);
}

export function groupCommitFromConfig(config: ReceiverConfig): GroupCommitLimits {
  return {
    maxBatches: config.RECEIVER_GROUP_MAX_BATCHES,
    maxReadings: config.RECEIVER_GROUP_MAX_READINGS,
    maxBytes: config.RECEIVER_GROUP_MAX_BYTES,
    writers: config.RECEIVER_GROUP_WRITERS,
  };
}
