import { type OversizeEntry, PROTOCOL_VERSION, type ReadingsBatch } from '@iot/common/protocol';
import { toWireEntry } from './wire-entry.ts';

export interface BatchLimits {
  /** Entries per batch (UPLINK_BATCH_MAX_COUNT). */
  maxCount: number;
  /** Bytes of the whole serialized payload (UPLINK_BATCH_MAX_BYTES). */
  maxBytes: number;
}

export interface BatchEnvelope {
  device: string;
  sentAt: number;
  meta?: ReadingsBatch['meta'];
}

/** One readings batch, serialized and ready to publish. */
export interface Batch {
  /** `<first id>..<last id>`: what the receiver's ack quotes. */
  name: string;
  first: string;
  last: string;
  count: number;
  payload: Buffer;
  /** More entries wait behind this batch (it was cut by count or by size): send the next one without delay. */
  full: boolean;
  /** Entries that travel raw or as oversize markers, with why. */
  problems: { id: string; problem: string }[];
}

/** A stream entry as XRANGE/XREAD return it: id and flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

/** The longest batch name: two 41-character ids (`<20 digits>-<20 digits>`) and "..". */
const LONGEST_NAME = 'x'.repeat(41 + 2 + 41);
const ENTRIES_OPEN = ',"entries":[';
const ENTRIES_CLOSE = ']}';

/**
 * Builds one v1 readings batch (messages.ts readingsBatch) from entries read after the cursor,
 * oldest first: as many as fit in `maxCount` and `maxBytes`. The byte count is exact for the
 * entries and conservative for the envelope (the longest possible batch name is assumed), so the
 * payload never exceeds `maxBytes`. An entry that alone exceeds the limit travels as an oversize
 * marker, so it cannot block the pipeline. Pass one entry more than `maxCount` to learn whether
 * more are waiting ({@link Batch.full}). Returns undefined for no entries.
 */
export function buildBatch(entries: readonly StreamEntry[], envelope: BatchEnvelope, limits: BatchLimits): Batch | undefined {
  if (entries.length === 0) return undefined;
  const head = (name: string) =>
    JSON.stringify({
      v: PROTOCOL_VERSION,
      device: envelope.device,
      batch: name,
      sent_at: envelope.sentAt,
      ...(envelope.meta === undefined ? {} : { meta: envelope.meta }),
    });
  // The head without its closing brace, then the entries array, then the closing brackets.
  const fixedBytes = Buffer.byteLength(head(LONGEST_NAME)) - 1 + ENTRIES_OPEN.length + ENTRIES_CLOSE.length;
  const parts: string[] = [];
  const problems: Batch['problems'] = [];
  let bytes = fixedBytes;
  for (const [id, flat] of entries) {
    if (parts.length >= limits.maxCount) break;
    const mapped = toWireEntry(id, flat);
    let json = JSON.stringify(mapped.entry);
    let size = Buffer.byteLength(json) + (parts.length > 0 ? 1 : 0);
    if (bytes + size > limits.maxBytes) {
      if (parts.length > 0) break;
      const oversize: OversizeEntry = { id, oversize_bytes: size };
      problems.push({ id, problem: `entry of ${size} bytes does not fit in a batch of at most ${limits.maxBytes} bytes` });
      json = JSON.stringify(oversize);
      size = Buffer.byteLength(json);
      parts.push(json);
      // Nothing may follow: the limit says even this one alone was too big.
      break;
    }
    if (mapped.problem !== undefined) problems.push({ id, problem: mapped.problem });
    parts.push(json);
    bytes += size;
  }
  const first = entries[0]![0];
  const last = entries[parts.length - 1]![0];
  const name = `${first}..${last}`;
  const payload = Buffer.from(`${head(name).slice(0, -1)}${ENTRIES_OPEN}${parts.join(',')}${ENTRIES_CLOSE}`);
  return {
    name,
    first,
    last,
    count: parts.length,
    payload,
    full: parts.length < entries.length,
    problems,
  };
}
