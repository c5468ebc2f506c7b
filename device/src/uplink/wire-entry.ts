import { BOOT_ID_PATTERN, FIELD, type ReadingEntry, readingEntry, type ShutdownEntry, shutdownEntry } from '@iot/common/protocol';

/**
 * An entry the uplink could not read as a reading or a marker (a foreign writer, junk, an
 * original-format reading without identity). It still travels, with its fields as Redis holds
 * them, so the receiver records it as rejected and counts it as consumed: one bad entry must never
 * block the pipeline (PROTOCOL.md, "Readings batch").
 */
export interface RawEntry {
  id: string;
  fields: Record<string, string>;
}

/** An entry too large for any batch: only its id and size travel, so the receiver records it as rejected. */
export interface OversizeEntry {
  id: string;
  oversize_bytes: number;
}

export type WireEntry = ReadingEntry | ShutdownEntry | RawEntry | OversizeEntry;

export type MappedEntry = { entry: WireEntry; problem?: undefined } | { entry: RawEntry; problem: string };

/** A decimal number as the sensor writes it (formatValue): no hex, no blanks, no empty string. */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const INTEGER = /^\d{1,16}$/;

/**
 * Maps one stream entry (its id and XRANGE's flat field/value list) to its v1 wire form
 * (messages.ts readingEntry / shutdownEntry). Sensor fields become numbers; identity comes from
 * `_boot_id`, `_seq`, `_measured_at` (stream.ts); `_`-fields this version does not know are left
 * out. Anything that does not validate is returned raw, with the reason.
 */
export function toWireEntry(id: string, flat: readonly string[]): MappedEntry {
  const entry = wellFormed(id, flat);
  return entry === undefined ? checked(id, flat) : { entry };
}

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
const FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The common case, without the schema library: a draining backlog maps hundreds of thousands of
 * entries, and zod's parse copies every object (about 4 KB of garbage per entry). Accepts exactly
 * what readingEntry / shutdownEntry accept (uplink-batch.test.ts compares the two on many inputs);
 * anything else goes to {@link checked}, which uses the schemas and says what is wrong.
 */
function wellFormed(id: string, flat: readonly string[]): ReadingEntry | ShutdownEntry | undefined {
  if (!STREAM_ID.test(id)) return undefined;
  let boot: string | undefined;
  let seqText: string | undefined;
  let atText: string | undefined;
  let event: string | undefined;
  let values: Record<string, number> | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const text = flat[i + 1]!;
    if (name.charCodeAt(0) === 95 /* _ */) {
      if (name === FIELD.bootId) {
        if (boot !== undefined) return undefined;
        boot = text;
      } else if (name === FIELD.seq) {
        if (seqText !== undefined) return undefined;
        seqText = text;
      } else if (name === FIELD.measuredAt) {
        if (atText !== undefined) return undefined;
        atText = text;
      } else if (name === FIELD.event) {
        if (event !== undefined) return undefined;
        event = text;
      }
      continue;
    }
    if (!FIELD_NAME.test(name) || !DECIMAL.test(text)) return undefined;
    values ??= {};
    if (Object.hasOwn(values, name)) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value)) return undefined;
    values[name] = value;
  }
  if (boot === undefined || !BOOT_ID_PATTERN.test(boot)) return undefined;
  const seq = integer(seqText);
  const at = integer(atText);
  if (seq === undefined || at === undefined) return undefined;
  if (event !== undefined) {
    if (event !== 'shutdown' || values !== undefined) return undefined;
    return { id, boot, seq, at, event };
  }
  if (values === undefined || seq < 1) return undefined;
  return { id, boot, seq, at, values };
}

/** Validation with the protocol schemas, for entries the fast path did not accept. */
function checked(id: string, flat: readonly string[]): MappedEntry {
  // No prototype: a junk field named __proto__ must be kept like any other.
  const fields: Record<string, string> = Object.create(null);
  let duplicate: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (Object.hasOwn(fields, name)) duplicate ??= name;
    fields[name] = flat[i + 1]!;
  }
  const raw = (problem: string): MappedEntry => ({ entry: { id, fields }, problem });
  if (duplicate !== undefined) return raw(`field ${duplicate} appears twice`);

  const boot = fields[FIELD.bootId];
  const seq = integer(fields[FIELD.seq]);
  const at = integer(fields[FIELD.measuredAt]);
  const event = fields[FIELD.event];
  if (event !== undefined) {
    if (event !== 'shutdown') return raw(`unknown event "${event}"`);
    const marker = shutdownEntry.safeParse({ id, boot, seq, at, event });
    return marker.success ? { entry: marker.data } : raw(describe(marker.error.issues));
  }

  const values: Record<string, number> = {};
  for (const [name, text] of Object.entries(fields)) {
    if (name.startsWith('_')) continue;
    if (!DECIMAL.test(text)) return raw(`${name}: ${JSON.stringify(text)} is not a number`);
    values[name] = Number(text);
  }
  const reading = readingEntry.safeParse({ id, boot, seq, at, values });
  return reading.success ? { entry: reading.data } : raw(describe(reading.error.issues));
}

/** A non-negative safe integer (the schemas' `.int()` accepts only safe ones). */
function integer(text: string | undefined): number | undefined {
  if (text === undefined || !INTEGER.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

function describe(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || 'entry'}: ${issue.message}`)
    .join('; ');
}
