import {
  batchEntryStreamId,
  compareStreamIds,
  decodeBatchEntry,
  decodeOriginalReading,
  decodeWithSchema,
  type OriginalReading,
  originalReading,
  type ReadingIdentity,
  type ReadingsBatch,
  type Rejection,
  type SensorValue,
  type StreamShutdown,
} from '@iot/common/protocol';
import type { NewReading, ShutdownMarker } from '../db/index.ts';
import { DEFAULT_LIMITS, LIMIT_ENV, MAX_STORED_SEQ, type ReceiverLimits } from './limits.ts';
import type { PartRejection } from './rejection-rows.ts';

/**
 * From what the protocol codecs decode (common/src/protocol: batch-entry.ts, original-reading.ts)
 * to what the database stores (db/reading-store.ts), with the limits that need no database
 * (limits.ts): fields per reading, and sequence numbers the columns can hold. The shapes differ
 * only in naming: a decoded entry is a tagged record with its identity; a database row is flat,
 * with nulls where an original reading has no identity.
 */
export interface MappedBatch {
  readings: NewReading[];
  shutdowns: ShutdownMarker[];
  /** Entries that failed validation, each with the entry itself for the record. */
  rejected: PartRejection[];
  /** The last stream id the batch covers (valid or not): where the device may move its cursor. */
  upTo: string;
}

/** The limits mapping applies (the rest need the database: device-limits.ts), and the clock-skew window. */
export type MappingLimits = Pick<ReceiverLimits, 'maxFieldsPerReading' | 'clockSkewFutureMs' | 'clockSkewPastMs'>;

/**
 * When the readings arrived (backend clock): a reading measured outside the plausible window
 * around it is stored with its clock-skew flag set (docs/protocol.md §10).
 */
export type ReceivedAt = number;

/** Splits a v1 batch into storable readings, shutdown markers and rejected entries. */
export function mapBatch(batch: ReadingsBatch, receivedAt: ReceivedAt, limits: MappingLimits = DEFAULT_LIMITS): MappedBatch {
  const mapped: MappedBatch = { readings: [], shutdowns: [], rejected: [], upTo: '0-0' };
  for (const entry of batch.entries) {
    const id = batchEntryStreamId(entry);
    if (id !== undefined && compareStreamIds(id, mapped.upTo) > 0) mapped.upTo = id;
    const decoded = decodeBatchEntry(entry);
    const problem = decoded.ok ? storable(decoded.value.streamId, decoded.value.record, limits) : decoded.rejection;
    if (problem !== undefined) {
      mapped.rejected.push({ part: entry, rejection: problem });
      continue;
    }
    if (!decoded.ok) continue;
    const { streamId, record } = decoded.value;
    if (record.kind === 'shutdown') mapped.shutdowns.push(shutdownMarker(record));
    else mapped.readings.push(newReading(streamId, record.identity, record.measuredAt, record.values, skewed(record.measuredAt, receivedAt, limits)));
  }
  return mapped;
}

/**
 * Maps one element of an original-format message. Readings our own devices re-send in this format
 * (send_measurements) carry `_boot_id` and `_seq` and so deduplicate against their v1 copies; a
 * re-sent clean-shutdown marker (`_event`) is a marker again.
 */
export function mapOriginalReading(
  element: OriginalReading,
  receivedAt: ReceivedAt,
  limits: MappingLimits = DEFAULT_LIMITS,
): { reading: NewReading } | { shutdown: ShutdownMarker } | { rejection: Rejection } {
  const decoded = decodeOriginalReading(element);
  if (!decoded.ok) return { rejection: decoded.rejection };
  const record = decoded.value;
  const problem = storable(element._id, record, limits);
  if (problem !== undefined) return { rejection: problem };
  if (record.kind === 'shutdown') return { shutdown: shutdownMarker(record) };
  return { reading: newReading(element._id, record.identity, record.measuredAt, record.values, skewed(record.measuredAt, receivedAt, limits)) };
}

/** An original-format message, element by element: one bad element costs only itself. */
export interface MappedOriginal {
  readings: NewReading[];
  shutdowns: ShutdownMarker[];
  rejected: PartRejection[];
  /** Who the device says it is: each field from the first element that passed the schema and has it. */
  stamp: Pick<OriginalReading, '_device_type' | '_app_id' | '_app_name'>;
}

export function mapOriginalReadings(elements: readonly unknown[], deviceId: string, topic: string, receivedAt: ReceivedAt, limits: MappingLimits = DEFAULT_LIMITS): MappedOriginal {
  const mapped: MappedOriginal = { readings: [], shutdowns: [], rejected: [], stamp: {} };
  for (const part of elements) {
    const element = decodeWithSchema(originalReading, part);
    if (!element.ok) {
      mapped.rejected.push({ part, rejection: element.rejection });
      continue;
    }
    const { _device_uuid: claimed, _device_type, _app_id, _app_name } = element.value;
    if (claimed !== undefined && claimed !== deviceId) {
      mapped.rejected.push({ part, rejection: { reason: 'device_mismatch', detail: `_device_uuid ${JSON.stringify(claimed)} but published on ${topic}` } });
      continue;
    }
    mapped.stamp._device_type ??= _device_type;
    mapped.stamp._app_id ??= _app_id;
    mapped.stamp._app_name ??= _app_name;
    const one = mapOriginalReading(element.value, receivedAt, limits);
    if ('rejection' in one) mapped.rejected.push({ part, rejection: one.rejection });
    else if ('shutdown' in one) mapped.shutdowns.push(one.shutdown);
    else mapped.readings.push(one.reading);
  }
  return mapped;
}

/** What the protocol allows but the database cannot hold, or a limit forbids; undefined if fine. */
function storable(streamId: string, record: { kind: 'reading'; identity: ReadingIdentity | null; values: Record<string, SensorValue> } | StreamShutdown, limits: MappingLimits): Rejection | undefined {
  const seq = record.kind === 'shutdown' ? record.lastSeq : record.identity?.seq;
  if (seq !== undefined && seq > MAX_STORED_SEQ) {
    return { reason: 'out_of_range', detail: `entry ${streamId}: sequence number ${seq} is beyond what the database holds (at most ${MAX_STORED_SEQ})` };
  }
  if (record.kind === 'reading') {
    const fields = Object.keys(record.values).length;
    if (fields > limits.maxFieldsPerReading) {
      return {
        reason: 'limit_exceeded',
        detail: `entry ${streamId}: a reading with ${fields} fields; at most ${limits.maxFieldsPerReading} (${LIMIT_ENV.maxFieldsPerReading}). Check the device's sensor configuration, or raise the limit`,
      };
    }
  }
  return undefined;
}

function newReading(streamId: string, identity: ReadingIdentity | null, measuredAt: number, values: Record<string, SensorValue>, clockSkew: boolean): NewReading {
  return { bootId: identity?.bootId ?? null, seq: identity?.seq ?? null, streamId, measuredAt, values, clockSkew };
}

/**
 * Whether a reading's time is implausible for when it arrived: later than a little ahead of the
 * backend's clock, or older than an outage's backlog can honestly be. Such a reading is stored,
 * flagged: a Pi without a real-time clock measures with a clock that is behind until NTP syncs
 * (docs/protocol.md §10). Times no date can hold never get here (epoch.ts).
 */
function skewed(measuredAt: number, receivedAt: ReceivedAt, limits: MappingLimits): boolean {
  return measuredAt > receivedAt + limits.clockSkewFutureMs || measuredAt < receivedAt - limits.clockSkewPastMs;
}

function shutdownMarker(record: StreamShutdown): ShutdownMarker {
  return { bootId: record.bootId, seq: record.lastSeq, at: record.at };
}
