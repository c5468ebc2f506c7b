import type { Logger } from '@iot/common/log';
import { decodeStreamId, encodeStreamId, nextStreamId, STREAM_KEY } from '@iot/common/protocol';
import type { Redis } from 'ioredis';
import type { Cursor } from './stream-cursor.ts';

/** What the stream looked like right after a trim, in one atomic step. */
export interface StreamMeasure {
  /** XLEN. */
  length: number;
  /** Confirmed entries (ids at or before the cursor) still in the stream: the local history. */
  history: number;
  /** Entries after the cursor: not yet confirmed by the backend. */
  backlog: number;
  /** Entries this call removed. */
  trimmed: number;
}

/**
 * Counts the confirmed entries from the cursor backwards, at most `keep + 1`, in chunks so a long
 * history never becomes one large Lua table; if there are more than `keep`, trims with MINID at the
 * oldest one to keep (or at the id after the cursor when keeping none). MINID, never MAXLEN: the
 * threshold is an id at or before the cursor, so no unconfirmed entry can be removed, whatever
 * the sensor appends meanwhile. The script runs atomically, so XLEN minus the confirmed count is
 * the exact backlog.
 *
 * KEYS[1] stream; ARGV: cursor id, keep, chunk, id after the cursor.
 */
const TRIM_AND_MEASURE = `
local stream, cursor = KEYS[1], ARGV[1]
local keep, chunk, afterCursor = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local counted, oldestKept, upper = 0, nil, cursor
while counted <= keep do
  local want = math.min(chunk, keep + 1 - counted)
  local entries = redis.call('XREVRANGE', stream, upper, '-', 'COUNT', want)
  for i = 1, #entries do
    counted = counted + 1
    if counted == keep then oldestKept = entries[i][1] end
  end
  if #entries < want then break end
  upper = '(' .. entries[#entries][1]
end
local trimmed = 0
if counted > keep then
  trimmed = redis.call('XTRIM', stream, 'MINID', oldestKept or afterCursor)
  counted = keep
end
return { redis.call('XLEN', stream), counted, trimmed }
`;

/** Entries fetched per XREVRANGE inside the script. */
const CHUNK = 1000;

/**
 * Trims `measurement:values` behind the confirmed cursor, keeping `keep` confirmed entries for the
 * local dashboard (docs/delivery-guarantee.md §4), and measures the backlog in the same atomic step.
 * Calls are serialised. The cost grows with `keep` (the script walks the kept history), which is
 * why the uplink trims every few seconds rather than on every ack.
 */
export class StreamTrimmer {
  private running: Promise<unknown> = Promise.resolve();
  private readonly redis: Redis;
  private readonly keep: number;
  private readonly logger: Logger;

  constructor(options: { redis: Redis; keep: number; logger: Logger }) {
    this.redis = options.redis;
    this.keep = options.keep;
    this.logger = options.logger;
  }

  /** Trims behind `cursor` and measures. Rejects if Redis fails. */
  trimAndMeasure(cursor: Cursor): Promise<StreamMeasure> {
    const run = this.running.then(
      () => this.run(cursor),
      () => this.run(cursor),
    );
    this.running = run.catch(() => undefined);
    return run;
  }

  private async run(cursor: Cursor): Promise<StreamMeasure> {
    if (cursor === undefined) {
      const length = await this.redis.xlen(STREAM_KEY);
      return { length, history: 0, backlog: length, trimmed: 0 };
    }
    const reply = (await this.redis.eval(TRIM_AND_MEASURE, 1, STREAM_KEY, cursor, this.keep, CHUNK, successor(cursor))) as [number, number, number];
    const [length, history, trimmed] = reply;
    if (trimmed > 0) {
      this.logger.debug({ event: 'stream_trimmed', trimmed, kept_history: history, backlog: length - history, cursor }, 'trimmed confirmed entries');
    }
    return { length, history, backlog: length - history, trimmed };
  }
}

/** The smallest id after `id` (a stream id: the confirmed cursor). */
function successor(id: string): string {
  const parts = decodeStreamId(id);
  if (!parts.ok) throw new Error(`cursor ${id} is not a stream id: ${parts.rejection.detail}`);
  return encodeStreamId(nextStreamId(parts.value));
}
