import {
  batchEntryStreamId,
  compareStreamIds,
  decodeBatchEntry,
  decodeOriginalReading,
  type OriginalReading,
  type ReadingIdentity,
  type ReadingsBatch,
  type Rejection,
  type StreamShutdown,
} from '@iot/common/protocol';
import type { NewReading, ShutdownMarker } from '../db/index.ts';

/**
 * From what the protocol codecs decode (common/src/protocol: batch-entry.ts, original-reading.ts)
 * to what the database stores (db/reading-store.ts). The shapes differ only in naming: a decoded
 * entry is a tagged record with its identity; a database row is flat, with nulls where an original
 * reading has no identity.
 */
export interface MappedBatch {
  readings: NewReading[];
  shutdowns: ShutdownMarker[];
  /** Entries that failed validation, each with the entry itself for the record. */
  rejected: { entry: unknown; rejection: Rejection }[];
  /** The last stream id the batch covers (valid or not): where the device may move its cursor. */
  upTo: string;
}

/** Splits a v1 batch into storable readings, shutdown markers and rejected entries. */
export function mapBatch(batch: ReadingsBatch): MappedBatch {
  const mapped: MappedBatch = { readings: [], shutdowns: [], rejected: [], upTo: '0-0' };
  for (const entry of batch.entries) {
    const id = batchEntryStreamId(entry);
    if (id !== undefined && compareStreamIds(id, mapped.upTo) > 0) mapped.upTo = id;
    const decoded = decodeBatchEntry(entry);
    if (!decoded.ok) {
      mapped.rejected.push({ entry, rejection: decoded.rejection });
      continue;
    }
    const { streamId, record } = decoded.value;
    if (record.kind === 'shutdown') mapped.shutdowns.push(shutdownMarker(record));
    else mapped.readings.push(newReading(streamId, record.identity, record.measuredAt, record.values));
  }
  return mapped;
}

/**
 * Maps one element of an original-format message. Readings our own devices re-send in this format
 * (send_measurements) carry `_boot_id` and `_seq` and so deduplicate against their v1 copies; a
 * re-sent clean-shutdown marker (`_event`) is a marker again.
 */
export function mapOriginalReading(element: OriginalReading): { reading: NewReading } | { shutdown: ShutdownMarker } | { rejection: Rejection } {
  const decoded = decodeOriginalReading(element);
  if (!decoded.ok) return { rejection: decoded.rejection };
  const record = decoded.value;
  if (record.kind === 'shutdown') return { shutdown: shutdownMarker(record) };
  return { reading: newReading(element._id, record.identity, record.measuredAt, record.values) };
}

function newReading(streamId: string, identity: ReadingIdentity | null, measuredAt: number, values: Record<string, number>): NewReading {
  return { bootId: identity?.bootId ?? null, seq: identity?.seq ?? null, streamId, measuredAt, values };
}

function shutdownMarker(record: StreamShutdown): ShutdownMarker {
  return { bootId: record.bootId, seq: record.lastSeq, at: record.at };
}
