import { MAX_EPOCH_MS } from './epoch.ts';
import { isBootId } from './identity.ts';
import { type Decoded, decoded, type Rejection, rejected } from './rejection.ts';

/**
 * The field grammar of a stream entry, shared by the two decoders of it: stream.ts (v1 entries,
 * as the uplink reads them) and original-reading.ts (the same fields re-sent in the original
 * format). Only FIELD leaves the folder (re-exported by stream.ts): callers decode whole entries.
 *
 * Fields of the original system (sensor names with string values) stay as they were, so its
 * dashboards keep working; identity and markers use fields starting with `_`, which no sensor
 * name does.
 */
export const FIELD = {
  bootId: '_boot_id',
  seq: '_seq',
  /** When the sample was taken, device clock, ms since the epoch. */
  measuredAt: '_measured_at',
  /** Present only on marker entries (stream.ts StreamEvent). */
  event: '_event',
} as const;

/** Sensor field names the v1 format allows: lowercase words, never starting with `_`. */
export const SENSOR_FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/**
 * Sensor field names the original format allows: its dictionaries were free-form, so letters of
 * either case, digits, `_`, `-` and `.`, starting with a letter. Never markup, blanks, quotes or
 * control characters, and at most 64 characters, the width of the metric columns (rollups).
 */
export const ORIGINAL_FIELD_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** A decimal number as formatValue writes it: no hex, no blanks, no empty string. */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
/** Longest value text: formatValue writes at most about 17 characters (10 significant digits and an exponent). */
const MAX_VALUE_CHARS = 32;
/**
 * Longest text value of an original reading (docs/protocol.md §9): a status word or a short
 * message, never a document. 64 fields of this size keep a reading's `values_json` under 20 KB.
 */
export const MAX_TEXT_VALUE_CHARS = 256;
const CONTROL_CHARACTER = /\p{Cc}/u;
/** A non-negative integer; longer than 16 digits is never a safe integer. */
const INTEGER = /^\d{1,16}$/;
const UNDERSCORE = 95;

/**
 * A sensor value as stored: a number, or — in the original format only — text, since the
 * original's values are strings and not every one of them is a number (docs/protocol.md §9).
 */
export type SensorValue = number | string;

/** An entry's fields sorted into identity fields (still text) and sensor values. */
export interface SplitFields<V extends SensorValue = SensorValue> {
  bootId: string | undefined;
  seq: string | undefined;
  measuredAt: string | undefined;
  event: string | undefined;
  /** Undefined when the entry has no sensor field. */
  values: Record<string, V> | undefined;
}

/**
 * One pass over XRANGE's flat field/value list. `_`-fields this version does not know are
 * skipped (a newer sensor may add some). Strict (v1) entries hold finite decimals only; original
 * entries (`original`) admit the names the original's free-form dictionaries may hold
 * ({@link ORIGINAL_FIELD_NAME}) and text values: what is not a decimal is kept as the text it is.
 */
export function splitFields(flat: readonly string[], original: false): Decoded<SplitFields<number>>;
export function splitFields(flat: readonly string[], original: true): Decoded<SplitFields>;
export function splitFields(flat: readonly string[], original: boolean): Decoded<SplitFields> {
  if (flat.length % 2 !== 0) return rejected('wrong_shape', `fields and values do not pair up (${flat.length} items)`);
  const split: SplitFields = { bootId: undefined, seq: undefined, measuredAt: undefined, event: undefined, values: undefined };
  // `_`-fields this version skips still count for duplicates; they are rare, so the set is too.
  let skipped: Set<string> | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    const text = flat[i + 1]!;
    if (name.charCodeAt(0) === UNDERSCORE) {
      switch (name) {
        case FIELD.bootId:
          if (split.bootId !== undefined) return twice(name);
          split.bootId = text;
          break;
        case FIELD.seq:
          if (split.seq !== undefined) return twice(name);
          split.seq = text;
          break;
        case FIELD.measuredAt:
          if (split.measuredAt !== undefined) return twice(name);
          split.measuredAt = text;
          break;
        case FIELD.event:
          if (split.event !== undefined) return twice(name);
          split.event = text;
          break;
        default:
          skipped ??= new Set();
          if (skipped.has(name)) return twice(name);
          skipped.add(name);
      }
      continue;
    }
    if (!(original ? ORIGINAL_FIELD_NAME : SENSOR_FIELD_NAME).test(name)) return badName(name, original);
    const value = original ? originalValue(name, text) : decimal(name, text);
    if (typeof value === 'object') return { ok: false, rejection: value };
    split.values ??= {};
    // Names starting with `_` never get here, so `__proto__` cannot be one: a plain object is safe.
    if (Object.hasOwn(split.values, name)) return twice(name);
    split.values[name] = value;
  }
  return decoded(split);
}

/** The boot id field, which must be present. */
export function bootIdField(text: string | undefined): Decoded<string> {
  if (text === undefined) return rejected('wrong_shape', `${FIELD.bootId} is missing`);
  if (!isBootId(text)) return rejected('wrong_type', `${FIELD.bootId} ${JSON.stringify(text)} must be 16 lowercase hex characters`);
  return decoded(text);
}

/** A counter field (`_seq`), which must be present: a safe integer of at least `min`. */
export function integerField(name: string, text: string | undefined, min: number): Decoded<number> {
  if (text === undefined) return rejected('wrong_shape', `${name} is missing`);
  const value = INTEGER.test(text) ? Number(text) : /^\d+$/.test(text) ? Number.POSITIVE_INFINITY : undefined;
  if (value === undefined) return rejected('wrong_type', `${name} ${JSON.stringify(text.slice(0, 40))} is not a non-negative whole number`);
  // Past 2^53 a double cannot hold every integer: 9007199254740993 would be stored as …992.
  if (!Number.isSafeInteger(value)) return rejected('out_of_range', `${name} ${text.slice(0, 40)} is too large to hold exactly (at most ${Number.MAX_SAFE_INTEGER})`);
  if (value < min) return rejected('wrong_type', `${name} must be at least ${min} (got ${value})`);
  return decoded(value);
}

/** A time field (`_measured_at`), which must be present: ms since the epoch that a date can hold (epoch.ts). */
export function timeField(name: string, text: string | undefined): Decoded<number> {
  const value = integerField(name, text, 0);
  if (!value.ok || value.value <= MAX_EPOCH_MS) return value;
  return rejected('out_of_range', `${name} ${value.value} is later than any date can be (at most ${MAX_EPOCH_MS} ms, in the year 275760)`);
}

function twice(name: string): Decoded<never> {
  return rejected('wrong_shape', `field ${name} appears twice`);
}

function badName(name: string, anyName: boolean): Decoded<never> {
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
  const rule = anyName ? 'letters, digits, _ - and ., starting with a letter' : 'lowercase letters, digits and _, starting with a letter';
  return rejected('wrong_shape', `${shown} is not a name for sensor values: at most 64 ${rule}${name.length > 64 ? ` (it has ${name.length})` : ''}`);
}

/**
 * An original value: a number exactly when a v1 entry would take it as one ({@link decimal}: the
 * strict grammar, at most {@link MAX_VALUE_CHARS} characters, finite), so `"0x10"` or `" 12 "`
 * stay the text they are and are never read as 16 or 12. Anything else is kept as the text it
 * is, within bounds that keep it harmless to store and show: the original never sends again, so
 * text is stored rather than lost.
 */
function originalValue(name: string, text: string): SensorValue | Rejection {
  const number = decimal(name, text);
  if (typeof number === 'number') return number;
  if (text.length > MAX_TEXT_VALUE_CHARS) return { reason: 'wrong_type', detail: `${name}: a text value of ${text.length} characters; at most ${MAX_TEXT_VALUE_CHARS}` };
  // The payload was valid UTF-8, but a JSON escape can still name a lone surrogate ("\ud800").
  if (!text.isWellFormed()) return { reason: 'wrong_type', detail: `${name}: the text value is not well-formed Unicode (a lone surrogate)` };
  if (CONTROL_CHARACTER.test(text)) return { reason: 'wrong_type', detail: `${name}: the text value ${JSON.stringify(text.slice(0, 40))} contains a control character` };
  return text;
}

function decimal(name: string, text: string): number | Rejection {
  if (text.length > MAX_VALUE_CHARS) return { reason: 'wrong_type', detail: `${name}: a value of ${text.length} characters is no number a sensor writes (at most ${MAX_VALUE_CHARS})` };
  if (!DECIMAL.test(text)) return { reason: 'wrong_type', detail: `${name}: ${JSON.stringify(text)} is not a number` };
  const value = Number(text);
  // "1e999" is a decimal, but no chip measures it: Infinity would not survive JSON either.
  if (!Number.isFinite(value)) return { reason: 'wrong_type', detail: `${name}: ${text} is too large for a number` };
  return value;
}
