import type { ReadingIdentity } from './identity.ts';
import { type Decoded, decoded, rejected } from './rejection.ts';
import { bootIdField, FIELD, integerField, splitFields, timeField } from './stream-fields.ts';

/**
 * The device's Redis stream entry format (key: redis-keys.ts), encoded and decoded here only: the
 * sensor writes with {@link readingFields} / {@link shutdownFields}, the uplink reads with
 * {@link decodeStreamEntry}. Field names are in stream-fields.ts.
 */
export { FIELD } from './stream-fields.ts';

/**
 * Marker entries. `shutdown` ends a boot cleanly and carries the boot's last sequence number in
 * `_seq`; a boot that never gets one ended by a crash or a power cut.
 */
export type StreamEvent = 'shutdown';
const SHUTDOWN: StreamEvent = 'shutdown';

/** Sensor quantities and their field names (unit in the name, as in the original). */
export const QUANTITY = {
  temperature: 'temperature_celsius',
  humidity: 'humidity_percent',
  pressure: 'pressure_hpa',
} as const;
export type Quantity = (typeof QUANTITY)[keyof typeof QUANTITY];

/** A reading as a stream entry holds it. */
export interface StreamReading {
  kind: 'reading';
  identity: ReadingIdentity;
  /** Device clock, ms since the epoch. */
  measuredAt: number;
  /** Field name → value; at least one. */
  values: Record<string, number>;
}

/** A clean-shutdown marker: the boot ended after sequence `lastSeq`. */
export interface StreamShutdown {
  kind: 'shutdown';
  bootId: string;
  lastSeq: number;
  /** Device clock, ms since the epoch. */
  at: number;
}

export type StreamRecord = StreamReading | StreamShutdown;

/** Field/value pairs for XADD, values as strings as the original wrote them. */
export function readingFields(identity: ReadingIdentity, measuredAt: number, values: Readonly<Record<string, number>>): string[] {
  const fields: string[] = [];
  for (const [name, value] of Object.entries(values)) fields.push(name, formatValue(value));
  fields.push(FIELD.bootId, identity.bootId, FIELD.seq, String(identity.seq), FIELD.measuredAt, String(measuredAt));
  return fields;
}

export function shutdownFields(bootId: string, lastSeq: number, at: number): string[] {
  return [FIELD.event, SHUTDOWN, FIELD.bootId, bootId, FIELD.seq, String(lastSeq), FIELD.measuredAt, String(at)];
}

/**
 * Reads one entry (XRANGE's flat field/value list) back into what {@link readingFields} or
 * {@link shutdownFields} wrote, or says what is wrong with it. Accepts exactly what the batch
 * schemas (messages.ts readingEntry / shutdownEntry) accept once encoded (batch-entry.ts), so
 * whatever the uplink sends as a reading the receiver takes as one. No schema library here: a
 * draining backlog decodes hundreds of thousands of entries, and a schema parse copies each.
 */
export function decodeStreamEntry(flat: readonly string[]): Decoded<StreamRecord> {
  const split = splitFields(flat, false);
  if (!split.ok) return split;
  const { event, values } = split.value;
  if (event !== undefined && event !== SHUTDOWN) return rejected('wrong_shape', `unknown event ${JSON.stringify(event)}`);
  const bootId = bootIdField(split.value.bootId);
  if (!bootId.ok) return bootId;
  const seq = integerField(FIELD.seq, split.value.seq, event === undefined ? 1 : 0);
  if (!seq.ok) return seq;
  const at = timeField(FIELD.measuredAt, split.value.measuredAt);
  if (!at.ok) return at;
  if (event !== undefined) {
    if (values !== undefined) return rejected('wrong_shape', `a shutdown marker carries no sensor values (got ${Object.keys(values).join(', ')})`);
    return decoded({ kind: 'shutdown', bootId: bootId.value, lastSeq: seq.value, at: at.value });
  }
  if (values === undefined) return rejected('wrong_shape', 'a reading must contain at least one value');
  return decoded({ kind: 'reading', identity: { bootId: bootId.value, seq: seq.value }, measuredAt: at.value, values });
}

/** Values keep the chip's resolution without float noise (0.1 + 0.2 style tails). */
export function formatValue(value: number): string {
  return String(roundValue(value));
}

/** The value as stored: 10 significant digits, finer than any supported chip resolves. */
export function roundValue(value: number): number {
  return Number(value.toPrecision(10));
}

/** A sample with every value rounded as it will be stored, so logs and stream agree exactly. */
export function roundValues(values: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, roundValue(value)]));
}
