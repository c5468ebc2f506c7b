import { compareStreamIds } from '@iot/common/protocol';

/**
 * The uplink's cursor in the original format (DESIGN.md §9): `mqtt_sender:last_id` holds `(` + a
 * stream id, meaning "after this id"; a missing key means "from the beginning". Internally a
 * cursor is the id *after which* to continue, or undefined for the beginning, because that is what
 * XREAD takes.
 */
export type Cursor = string | undefined;

const FULL_ID = /^(\d{1,20})-(\d{1,20})$/;
const MS_ONLY = /^(\d{1,20})$/;
const MAX_PART = (1n << 64n) - 1n;

export type ParsedCursor = { ok: true; after: Cursor } | { ok: false; problem: string };

/**
 * Reads a stored cursor. Besides our own `(<id>`, accepts what a person or the original may have
 * written: a bare id (XRANGE's inclusive start: continue *with* that id), a bare millisecond part,
 * `-`, `0` and `0-0` (the beginning).
 */
export function parseCursor(raw: string | null): ParsedCursor {
  if (raw === null) return { ok: true, after: undefined };
  const text = raw.trim();
  if (text === '-' || text === '0' || text === '0-0' || text === '(0-0') return { ok: true, after: undefined };
  const exclusive = text.startsWith('(');
  const id = normalise(exclusive ? text.slice(1) : text);
  if (id === undefined) return { ok: false, problem: `"${raw}" is not a stream id like (1700000000000-0` };
  return { ok: true, after: exclusive ? id : predecessor(id) };
}

/** The stored form of a cursor that continues after `id`. */
export function formatCursor(id: string): string {
  return `(${id}`;
}

/** The id XREAD continues after: everything when the cursor is at the beginning. */
export function xreadId(cursor: Cursor): string {
  return cursor ?? '0-0';
}

/** True when `candidate` lies strictly after `cursor` (numerically, never as strings). */
export function isAfter(candidate: string, cursor: Cursor): boolean {
  return cursor === undefined || compareStreamIds(candidate, cursor) > 0;
}

/** A full `<ms>-<seq>` id within Redis' 64-bit parts, or undefined. */
function normalise(text: string): string | undefined {
  const full = FULL_ID.exec(text);
  const ms = full?.[1] ?? MS_ONLY.exec(text)?.[1];
  if (ms === undefined) return undefined;
  const seq = full?.[2] ?? '0';
  if (BigInt(ms) > MAX_PART || BigInt(seq) > MAX_PART) return undefined;
  return `${BigInt(ms)}-${BigInt(seq)}`;
}

/** The id just before `id`, so that "after it" includes `id`; undefined before 0-1. */
function predecessor(id: string): Cursor {
  const [msText, seqText] = id.split('-') as [string, string];
  const ms = BigInt(msText);
  const seq = BigInt(seqText);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_PART}`;
  return undefined;
}
