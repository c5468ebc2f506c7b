import {
  BOOT_ID_PATTERN,
  compareStreamIds,
  FIELD,
  type OriginalReading,
  type ReadingEntry,
  readingEntry,
  type ReadingsBatch,
  type ShutdownEntry,
  shutdownEntry,
} from '@iot/common/protocol';
import { type Rejection, validate } from './classify.ts';

/**
 * A reading ready for the database: its identity (boot id and sequence, or for original readings
 * without them only the stream id; the database derives the unique reading key), where it sat on
 * the device, and its values.
 */
export interface IncomingReading {
  bootId: string | null;
  seq: number | null;
  streamId: string;
  measuredAt: number;
  values: Record<string, number>;
}

export interface IncomingShutdown {
  bootId: string;
  seq: number;
  at: number;
}

export interface MappedBatch {
  readings: IncomingReading[];
  shutdowns: IncomingShutdown[];
  /** Entries that failed validation, each with the entry itself for the record. */
  rejected: { entry: unknown; rejection: Rejection }[];
  /** The last stream id the batch covers (valid or not): where the device may move its cursor. */
  upTo: string;
}

/** Splits a v1 batch into storable readings, shutdown markers and rejected entries. */
export function mapBatch(batch: ReadingsBatch): MappedBatch {
  const mapped: MappedBatch = { readings: [], shutdowns: [], rejected: [], upTo: '0-0' };
  for (const entry of batch.entries) {
    const id = streamIdOf(entry);
    if (id !== undefined && compareStreamIds(id, mapped.upTo) > 0) mapped.upTo = id;
    if (typeof entry === 'object' && entry !== null && 'event' in entry) {
      const marker = validate<ShutdownEntry>(shutdownEntry, entry);
      if (marker.ok) mapped.shutdowns.push({ bootId: marker.value.boot, seq: marker.value.seq, at: marker.value.at });
      else mapped.rejected.push({ entry, rejection: marker.rejection });
      continue;
    }
    const reading = validate<ReadingEntry>(readingEntry, entry);
    if (!reading.ok) {
      mapped.rejected.push({ entry, rejection: reading.rejection });
      continue;
    }
    const { id: streamId, boot, seq, at, values } = reading.value;
    mapped.readings.push({ bootId: boot, seq, streamId, measuredAt: at, values });
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
): { reading: IncomingReading } | { shutdown: IncomingShutdown } | { rejection: Rejection } {
  const boot = element[FIELD.bootId];
  const seq = element[FIELD.seq] === undefined ? Number.NaN : Number(element[FIELD.seq]);
  const hasBoot = boot !== undefined && BOOT_ID_PATTERN.test(boot);
  const measuredAtField = Number(element[FIELD.measuredAt]);
  const measuredAt = Number.isFinite(measuredAtField) ? measuredAtField : Number(element._id.split('-')[0]);
  if (element[FIELD.event] !== undefined) {
    if (element[FIELD.event] === 'shutdown' && hasBoot && Number.isInteger(seq) && seq >= 0) return { shutdown: { bootId: boot, seq, at: measuredAt } };
    return { rejection: { reason: 'wrong_shape', detail: `entry ${element._id}: unknown event ${JSON.stringify(element[FIELD.event])}` } };
  }
  const values: Record<string, number> = {};
  for (const [name, raw] of Object.entries(element)) {
    if (name.startsWith('_')) continue;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      return { rejection: { reason: 'wrong_type', detail: `${name}: ${JSON.stringify(raw)} is not a number` } };
    }
    values[name] = value;
  }
  if (Object.keys(values).length === 0) return { rejection: { reason: 'wrong_shape', detail: `entry ${element._id} has no sensor values` } };
  const hasIdentity = hasBoot && Number.isInteger(seq) && seq >= 1;
  return {
    reading: {
      bootId: hasIdentity ? boot : null,
      seq: hasIdentity ? seq : null,
      streamId: element._id,
      measuredAt,
      values,
    },
  };
}

function streamIdOf(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null || !('id' in entry)) return undefined;
  const id = entry.id;
  return typeof id === 'string' && /^\d{1,20}-\d{1,20}$/.test(id) ? id : undefined;
}
