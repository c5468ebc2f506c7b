import { type Command, encodeOriginalReading, MAX_PAYLOAD_BYTES, type OriginalStamp, STREAM_KEY } from '@iot/common/protocol';
import type { Redis } from 'ioredis';
import { CommandRefusal } from './command-errors.ts';


/** Publishes one original-format readings message (a JSON array) on the values topic. */
export type PublishValues = (readings: Record<string, string>[]) => Promise<void>;

const DEFAULT_SEND_COUNT = 100;
/** Larger requests are cut to this: the reply is read into memory and published at once. */
const MAX_SEND_COUNT = 1000;

/** A range bound as XRANGE takes it: `-`, `+`, or `<ms>[-<seq>]`, optionally `(`-prefixed for "exclusive" (Redis ≥ 6.2). */
const RANGE_BOUND = /^(?:[-+]|\(?\d{1,20}(?:-\d{1,20})?)$/;

interface MeasurementRange {
  min: string;
  max: string;
  count: number;
}

/** The XRANGE arguments of a send_measurements command, with the original's defaults (whole stream). */
export function measurementRange(command: Pick<Command, 'min_id' | 'max_id' | 'count'>): MeasurementRange {
  const min = command.min_id ?? '-';
  const max = command.max_id ?? '+';
  for (const [name, bound] of [
    ['min_id', min],
    ['max_id', max],
  ] as const) {
    if (!RANGE_BOUND.test(bound)) {
      throw new CommandRefusal('invalid_value', `${name} ${JSON.stringify(bound)} must be "-", "+" or a stream id like 1700000000000-0, optionally prefixed with "(" to exclude it`);
    }
  }
  return { min, max, count: Math.min(command.count ?? DEFAULT_SEND_COUNT, MAX_SEND_COUNT) };
}

/** Splits readings into JSON arrays that each fit in `maxBytes`, keeping stream order. */
function chunkBySize(readings: readonly Record<string, string>[], maxBytes: number): Record<string, string>[][] {
  const chunks: Record<string, string>[][] = [];
  let current: Record<string, string>[] = [];
  let size = 2; // "[]"
  for (const reading of readings) {
    const bytes = Buffer.byteLength(JSON.stringify(reading));
    if (current.length > 0 && size + 1 + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 2;
    }
    size += (current.length > 0 ? 1 : 0) + bytes; // a comma before every element but the first
    current.push(reading);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * send_measurements (docs/original-system.md §12): XRANGE over the stream and publish the entries in the original
 * readings format, in messages no larger than the protocol's payload limit. Nothing is published
 * for an empty range. This does not move the uplink's cursor: it is a re-send on request.
 */
export async function sendMeasurements(options: {
  redis: Redis;
  range: MeasurementRange;
  /** Who the device is, as the original stamped it on every reading (docs/original-system.md §11). */
  meta: OriginalStamp;
  publishValues: PublishValues;
}): Promise<{ count: number; messages: number; last_id?: string }> {
  const { min, max, count } = options.range;
  const entries = await options.redis.xrange(STREAM_KEY, min, max, 'COUNT', count);
  // Identity fields (`_boot_id`, `_seq`) travel along, so the backend recognises readings it
  // already has from v1 batches.
  const readings = entries.map(([id, fields]) => encodeOriginalReading(id, fields, options.meta));
  const chunks = chunkBySize(readings, MAX_PAYLOAD_BYTES);
  let published = 0;
  for (const chunk of chunks) {
    try {
      await options.publishValues(chunk);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CommandRefusal('internal', `published ${published} of ${readings.length} readings, then publishing failed: ${reason}`);
    }
    published += chunk.length;
  }
  const last = entries.at(-1)?.[0];
  return { count: readings.length, messages: chunks.length, ...(last === undefined ? {} : { last_id: last }) };
}
