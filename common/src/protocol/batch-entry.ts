import { isEpochMs } from './epoch.ts';
import { isBootId } from './identity.ts';
import { type ReadingEntry, readingEntry, type ShutdownEntry, shutdownEntry } from './messages.ts';
import { decodeWithSchema } from './payload.ts';
import { type Decoded, decoded, rejected } from './rejection.ts';
import { decodeStreamEntry, type StreamRecord } from './stream.ts';
import { SENSOR_FIELD_NAME } from './stream-fields.ts';
import { isStreamId } from './stream-id.ts';

/**
 * Entries of a v1 readings batch (messages.ts readingsBatch; docs/protocol.md §4). The
 * uplink encodes each decoded stream entry with {@link encodeBatchEntry}; the receiver reads every
 * entry with {@link decodeBatchEntry}. Entries the uplink could not decode still travel, raw or as
 * an oversize marker, so the receiver records them as rejected and one bad entry never blocks the
 * pipeline.
 */

/** An entry the uplink could not read as a reading or a marker, with its fields as Redis holds them. */
export interface RawEntry {
  id: string;
  fields: Record<string, string>;
}

/** An entry too large for any batch: only its id and size travel. */
export interface OversizeEntry {
  id: string;
  oversize_bytes: number;
}

export type BatchEntry = ReadingEntry | ShutdownEntry | RawEntry | OversizeEntry;

/** A batch entry the receiver can store: what it holds and where it sat in the device's stream. */
export interface BatchRecord {
  streamId: string;
  record: StreamRecord;
}

export function encodeBatchEntry(streamId: string, record: StreamRecord): ReadingEntry | ShutdownEntry {
  return record.kind === 'reading'
    ? { id: streamId, boot: record.identity.bootId, seq: record.identity.seq, at: record.measuredAt, values: record.values }
    : { id: streamId, boot: record.bootId, seq: record.lastSeq, at: record.at, event: 'shutdown' };
}

/**
 * Reads one entry of a received batch. Readings and markers are checked against the schemas;
 * an oversize marker is rejected as `oversize`; a raw entry is rejected with what the stream
 * codec finds wrong with its fields, the same verdict the uplink reached.
 */
export function decodeBatchEntry(entry: unknown): Decoded<BatchRecord> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return rejected('wrong_type', `an entry must be an object (got ${entry === null ? 'null' : Array.isArray(entry) ? 'an array' : typeof entry})`);
  }
  const id = batchEntryStreamId(entry) ?? '(no id)';
  // Raw entries and oversize markers carry no identity; a reading that merely adds a field
  // unknown here (a newer sender) still has its `boot`.
  if (!('boot' in entry) && 'oversize_bytes' in entry) {
    return rejected('oversize', `entry ${id} of ${String(entry.oversize_bytes)} bytes fits in no batch; the device sent only its id`);
  }
  if (!('boot' in entry) && 'fields' in entry) return rawVerdict(id, entry.fields);
  const quick = quickReading(entry as Record<string, unknown>);
  if (quick !== undefined) return decoded(quick);
  if (!KNOWN_KEYS.some((key) => key in entry)) return NOTHING_KNOWN;
  if ('event' in entry) {
    const marker = decodeWithSchema(shutdownEntry, entry);
    if (!marker.ok) return marker;
    const { id: streamId, boot, seq, at } = marker.value;
    return decoded({ streamId, record: { kind: 'shutdown', bootId: boot, lastSeq: seq, at } });
  }
  const reading = decodeWithSchema(readingEntry, entry);
  if (!reading.ok) return reading;
  const { id: streamId, boot, seq, at, values } = reading.value;
  return decoded({ streamId, record: { kind: 'reading', identity: { bootId: boot, seq }, measuredAt: at, values } });
}

/**
 * Keys of a reading or marker: an entry with none of them gets the schema's verdict on `{}`,
 * computed once (a batch of 10 000 junk entries would otherwise run the schema 10 000 times).
 */
const KNOWN_KEYS = ['id', 'boot', 'seq', 'at', 'values', 'event'] as const;
const NOTHING_KNOWN = decodeWithSchema(readingEntry, {}) as Decoded<never>;

/**
 * A well-formed reading, accepted without the schema: exactly what readingEntry accepts, checked
 * by hand because a draining backlog decodes many thousands of entries a second and a schema
 * parse copies each. Anything else (undefined) goes through the schema, which says what is wrong.
 */
function quickReading(entry: Record<string, unknown>): BatchRecord | undefined {
  const { id, boot, seq, at, values } = entry;
  if (!isStreamId(id) || !isBootId(boot) || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof at !== 'number' || !isEpochMs(at) || typeof values !== 'object' || values === null || Array.isArray(values) || 'event' in entry) return undefined;
  const copy: Record<string, number> = {};
  let count = 0;
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || !SENSOR_FIELD_NAME.test(name)) return undefined;
    copy[name] = value;
    count++;
  }
  if (count === 0) return undefined;
  return { streamId: id, record: { kind: 'reading', identity: { bootId: boot, seq }, measuredAt: at, values: copy } };
}

/** The stream id of any entry, valid or not, so the ack can cover entries that were rejected. */
export function batchEntryStreamId(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null || !('id' in entry)) return undefined;
  return isStreamId(entry.id) ? entry.id : undefined;
}

function rawVerdict(id: string, fields: unknown): Decoded<BatchRecord> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return rejected('wrong_type', `entry ${id}: fields must be an object`);
  const flat: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'string') return rejected('wrong_type', `entry ${id}: field ${name} must be a string as Redis holds it`);
    flat.push(name, value);
  }
  const verdict = decodeStreamEntry(flat);
  if (!verdict.ok) return rejected(verdict.rejection.reason, `entry ${id}, sent raw by the device: ${verdict.rejection.detail}`);
  // Only a device with another version of the stream codec sends a readable entry raw; the
  // protocol says raw entries are rejected, so it is, and the detail says why it may be surprising.
  return rejected('wrong_shape', `entry ${id} was sent raw although its fields read as a ${verdict.value.kind}; the device's protocol code differs from the receiver's`);
}
