import { type Decoded, decoded, rejected } from './rejection.ts';

/**
 * Redis stream ids, `<ms>-<seq>`: where an entry sits in the device's stream, not what it is
 * (identity.ts). Both parts are unsigned 64-bit integers in Redis, so they are compared as BigInts,
 * never as strings ("…-10" comes after "…-9") and never as doubles (ms parts beyond 2^53 exist
 * after a clock jump or a hand-written XADD).
 */
export interface StreamIdParts {
  ms: bigint;
  seq: bigint;
}

/** Largest value of either part. */
export const MAX_STREAM_ID_PART = (1n << 64n) - 1n;

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
/** MAX_STREAM_ID_PART as text: a 20-digit part is in range iff it sorts at or below this. */
const MAX_PART_TEXT = MAX_STREAM_ID_PART.toString();
const EXAMPLE = '1700000000000-0';

/**
 * True for a full stream id within Redis' range. Cheap enough for every entry of a draining
 * backlog: a regex, and a string comparison only for 20-digit parts.
 */
export function isStreamId(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const match = STREAM_ID.exec(text);
  return match !== null && inRange(match[1]!) && inRange(match[2]!);
}

/** Reads a stream id, saying what is wrong with one that is not. */
export function decodeStreamId(text: unknown): Decoded<StreamIdParts> {
  if (typeof text !== 'string') return rejected('wrong_type', `a stream id must be a string like ${EXAMPLE} (got ${describe(text)})`);
  const match = STREAM_ID.exec(text);
  if (match === null) return rejected('wrong_shape', `${JSON.stringify(text)} is not a stream id like ${EXAMPLE}`);
  const [, ms, seq] = match as unknown as [string, string, string];
  if (!inRange(ms) || !inRange(seq)) {
    return rejected('wrong_type', `stream id ${JSON.stringify(text)} is out of range: each part must be at most ${MAX_PART_TEXT}`);
  }
  return decoded({ ms: BigInt(ms), seq: BigInt(seq) });
}

/** The canonical text of a stream id (no leading zeros). */
export function encodeStreamId(parts: StreamIdParts): string {
  return `${parts.ms}-${parts.seq}`;
}

/** Orders stream ids numerically, ms part first. Both must be stream ids ({@link isStreamId}). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

/** The smallest stream id after `parts`, as XRANGE's exclusive start would continue. */
export function nextStreamId(parts: StreamIdParts): StreamIdParts {
  return parts.seq < MAX_STREAM_ID_PART ? { ms: parts.ms, seq: parts.seq + 1n } : { ms: parts.ms + 1n, seq: 0n };
}

/** The largest stream id before `parts`; undefined before 0-1 (nothing comes before it). */
export function previousStreamId(parts: StreamIdParts): StreamIdParts | undefined {
  if (parts.seq > 0n) return { ms: parts.ms, seq: parts.seq - 1n };
  if (parts.ms > 0n) return { ms: parts.ms - 1n, seq: MAX_STREAM_ID_PART };
  return undefined;
}

/**
 * The ms part of a stream id as a number, for when an entry carries no time of its own (original
 * readings: Redis' clock at XADD is the best there is). Undefined when it is no stream id or the
 * part does not fit a safe integer.
 */
export function streamIdMs(id: string): number | undefined {
  if (!isStreamId(id)) return undefined;
  const ms = Number(id.slice(0, id.indexOf('-')));
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function inRange(part: string): boolean {
  return part.length < MAX_PART_TEXT.length || part <= MAX_PART_TEXT;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
