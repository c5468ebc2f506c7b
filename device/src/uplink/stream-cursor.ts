import { compareStreamIds, decodeStreamId, encodeStreamId, type StreamIdParts, previousStreamId } from '@iot/common/protocol';

/**
 * The uplink's cursor in the original format (docs/original-system.md §5): `mqtt_sender:last_id` holds `(` + a
 * stream id, meaning "after this id"; a missing key means "from the beginning". Internally a
 * cursor is the id *after which* to continue, or undefined for the beginning, because that is what
 * XREAD takes.
 */
export type Cursor = string | undefined;

const MS_ONLY = /^\d{1,20}$/;

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
  const id = streamIdOf(exclusive ? text.slice(1) : text);
  if (id === undefined) return { ok: false, problem: `"${raw}" is not a stream id like (1700000000000-0` };
  if (exclusive) return { ok: true, after: encodeStreamId(id) };
  const before = previousStreamId(id);
  return { ok: true, after: before === undefined ? undefined : encodeStreamId(before) };
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

/** A full `<ms>-<seq>` id (a bare ms part means `<ms>-0`) within Redis' 64-bit parts, or undefined. */
function streamIdOf(text: string): StreamIdParts | undefined {
  const decoded = decodeStreamId(MS_ONLY.test(text) ? `${text}-0` : text);
  return decoded.ok ? decoded.value : undefined;
}
