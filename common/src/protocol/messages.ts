import { z } from 'zod';
import { MAX_EPOCH_MS } from './epoch.ts';
import { BOOT_ID_PATTERN } from './identity.ts';
import { SENSOR_FIELD_NAME } from './stream-fields.ts';
import { isStreamId } from './stream-id.ts';
import { DEVICE_ID_PATTERN } from './topics.ts';

/**
 * Payloads of protocol v1 (docs/protocol.md). Every v1 payload carries `v`; receivers ignore
 * fields they do not know, so a newer sender stays readable, and reject anything whose known
 * fields are missing or of the wrong type.
 */
export const PROTOCOL_VERSION = 1;

/** Default largest payload anyone publishes or accepts. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

const version = z.literal(PROTOCOL_VERSION);
const deviceId = z.string().regex(DEVICE_ID_PATTERN, 'must be 1–64 of A–Z a–z 0–9 _ -');
/** A Redis stream id, `<ms>-<seq>`, each part within 64 bits (stream-id.ts). */
export const streamId = z.string().refine(isStreamId, 'must be a Redis stream id like 1700000000000-0');
const bootId = z.string().regex(BOOT_ID_PATTERN, 'must be 16 lowercase hex characters');
/** Milliseconds since the epoch, no later than a date can be (epoch.ts). */
const epochMs = z.number().int().nonnegative().max(MAX_EPOCH_MS, `is later than any date can be (at most ${MAX_EPOCH_MS} ms, in the year 275760)`);
const CONTROL_CHARACTER = /\p{Cc}/u;
/**
 * Text the backend stores in a column of `max` characters: no longer than the column (never cut
 * there), well-formed (a lone surrogate would be stored as U+FFFD) and free of control characters.
 */
const storedText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((text) => text.isWellFormed() && !CONTROL_CHARACTER.test(text), 'must be well-formed text without control characters');
/** Field names as the sensor writes them: lowercase words, never starting with `_`. */
const fieldName = z.string().regex(SENSOR_FIELD_NAME, 'must be a lowercase field name');

export const readingEntry = z.object({
  /** Stream id on the device: where the entry sits, not what it is. */
  id: streamId,
  boot: bootId,
  seq: z.number().int().min(1),
  /** When it was measured, device clock, ms since the epoch. */
  at: epochMs,
  values: z.record(fieldName, z.number().finite()).refine((v) => Object.keys(v).length > 0, 'must contain at least one value'),
});

/** End of a boot: a clean shutdown after sequence number `seq`. */
export const shutdownEntry = z.object({
  id: streamId,
  boot: bootId,
  seq: z.number().int().min(0),
  at: epochMs,
  event: z.literal('shutdown'),
});

export const readingsBatch = z.object({
  v: version,
  device: deviceId,
  /** Names this batch in the acknowledgement: `<first stream id>..<last stream id>`. */
  batch: z.string().min(1).max(100),
  sent_at: epochMs,
  meta: z
    .object({
      device_type: storedText(100).optional(),
      app_id: storedText(100).optional(),
      app_name: storedText(200).optional(),
    })
    .optional(),
  /** Entries as the stream holds them; an entry the receiver cannot accept is recorded as rejected. */
  entries: z.array(z.unknown()).min(1).max(10_000),
});
export type ReadingEntry = z.infer<typeof readingEntry>;
export type ShutdownEntry = z.infer<typeof shutdownEntry>;
export type ReadingsBatch = z.infer<typeof readingsBatch>;

export const ack = z.object({
  v: version,
  batch: z.string().min(1).max(100),
  /** The last stream id of the batch: the device may move its cursor here. */
  up_to: streamId,
  stored: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
});
export type Ack = z.infer<typeof ack>;

export const deviceStatus = z.object({
  v: version,
  online: z.boolean(),
  at: epochMs,
  /** Stream entries not yet confirmed by the backend. */
  backlog: z.number().int().nonnegative().optional(),
  /** The confirmed cursor (last acknowledged stream id), null before the first ack. */
  confirmed: streamId.nullable().optional(),
  measuring: z.boolean().optional(),
  interval_seconds: z.number().nonnegative().optional(),
  redis: z
    .object({ used_memory: z.number().int().nonnegative(), maxmemory: z.number().int().nonnegative(), full: z.boolean() })
    .optional(),
  config_version: z.number().int().nonnegative().optional(),
});
export type DeviceStatus = z.infer<typeof deviceStatus>;

export const desiredConfig = z.object({
  v: version,
  version: z.number().int().min(1),
  config: z.record(z.string(), z.string()),
});
export type DesiredConfig = z.infer<typeof desiredConfig>;

export const reportedConfig = z.object({
  v: version,
  /** The desired version applied last; 0 before any. */
  version: z.number().int().nonnegative(),
  config: z.record(z.string(), z.string()),
  /** Keys of the desired version the device refused, with why. */
  errors: z.array(z.object({ key: z.string(), code: z.string(), message: z.string() })).optional(),
});
export type ReportedConfig = z.infer<typeof reportedConfig>;

/** Command names; `command` is matched case-insensitively, as in the original. */
export const COMMANDS = ['reboot', 'get_config', 'set_config', 'send_measurements', 'start_measurement', 'stop_measurement', 'set_interval'] as const;
export type CommandName = (typeof COMMANDS)[number];

/**
 * A command. v1 commands carry `v`, an `id` (answers quote it) and may carry `expires_at`; the
 * original's commands (no v, no id) are accepted too.
 */
export const command = z.object({
  v: version.optional(),
  id: z.string().min(1).max(100).optional(),
  command: z.string().min(1).max(50),
  expires_at: epochMs.optional(),
  key: z.string().max(100).optional(),
  value: z.unknown().optional(),
  seconds: z.unknown().optional(),
  min_id: z.string().max(30).optional(),
  max_id: z.string().max(30).optional(),
  count: z.number().int().min(1).max(10_000).optional(),
});
export type Command = z.infer<typeof command>;

/** Error codes in answers to commands. */
export const COMMAND_ERRORS = [
  'invalid_command',
  'unknown_command',
  'unknown_key',
  'read_only_key',
  'invalid_value',
  'expired',
  'redis_unavailable',
  'reboot_failed',
  'internal',
] as const;
export type CommandErrorCode = (typeof COMMAND_ERRORS)[number];

export const commandResponse = z.object({
  v: version,
  id: z.string().max(100).optional(),
  command: z.string().max(50),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Echoed as the original did for get_config / set_config. */
  key: z.string().optional(),
  value: z.unknown().optional(),
});
export type CommandResponse = z.infer<typeof commandResponse>;

/**
 * One element of an original-format readings message: `_id` plus sensor fields as strings. Who
 * the device is goes into the device's row, so it is bounded like its columns.
 */
export const originalReading = z
  .object({
    _id: streamId,
    _device_uuid: z.string().max(64).optional(),
    _device_type: storedText(100).optional(),
    _app_id: storedText(100).optional(),
    _app_name: storedText(200).optional(),
  })
  .catchall(z.string());
export const originalReadings = z.array(originalReading);
/**
 * The message as the receiver first reads it: the elements are checked one by one
 * (originalReading), so one bad element costs only itself; an original device never sends again.
 * No element limit here: the original sends its whole backlog as one message (docs/protocol.md
 * §9), so the receiver bounds it by bytes and by its own per-message limit (limits.ts).
 */
export const originalReadingsMessage = z.array(z.unknown());

/**
 * Default largest original-format readings message (the `values` topic only): the original
 * sends its whole backlog as one message, ~100–250 bytes a reading, so 16 MiB holds a backlog of
 * about a day at one reading a second (docs/protocol.md §9).
 */
export const MAX_ORIGINAL_PAYLOAD_BYTES = 16 * 1024 * 1024;
export type OriginalReading = z.infer<typeof originalReading>;
