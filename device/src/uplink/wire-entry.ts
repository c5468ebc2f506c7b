import {
  decodeStreamEntry,
  decodeStreamId,
  encodeBatchEntry,
  isStreamId,
  type RawEntry,
  type ReadingEntry,
  type ShutdownEntry,
} from '@iot/common/protocol';

export type MappedEntry = { entry: ReadingEntry | ShutdownEntry; problem?: undefined } | { entry: RawEntry; problem: string };

/**
 * Maps one stream entry (its id and XRANGE's flat field/value list) to its v1 batch form with the
 * protocol's codecs (stream.ts decodes, batch-entry.ts encodes). An entry they cannot read travels
 * raw, with its fields as Redis holds them, and the reason: the receiver records it as rejected
 * and counts it as consumed, so one bad entry never blocks the pipeline (docs/protocol.md §4).
 */
export function toWireEntry(id: string, flat: readonly string[]): MappedEntry {
  // The cheap check first: decoding into BigInts is only needed to say what is wrong.
  if (!isStreamId(id)) {
    const streamId = decodeStreamId(id);
    return raw(id, flat, `id: ${streamId.ok ? 'not a stream id' : streamId.rejection.detail}`);
  }
  const record = decodeStreamEntry(flat);
  if (!record.ok) return raw(id, flat, record.rejection.detail);
  return { entry: encodeBatchEntry(id, record.value) };
}

function raw(id: string, flat: readonly string[], problem: string): MappedEntry {
  // No prototype: a junk field named __proto__ must be kept like any other.
  const fields: Record<string, string> = Object.create(null);
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { entry: { id, fields }, problem };
}
