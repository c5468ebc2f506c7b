import { type Cursor, isAfter } from './stream-cursor.ts';

/** A batch published and not yet covered by the cursor. */
export interface InFlightBatch {
  name: string;
  /** The read position the batch was read after: its entries are exactly those after `after`, up to `last`. */
  after: Cursor;
  last: string;
  count: number;
  sentAt: number;
}

/** An acknowledged stretch of the stream: every entry after `after`, up to `last`, is committed. */
interface AckedRange {
  after: Cursor;
  last: string;
}

/** Acknowledged stretches remembered beyond the window, for acks that arrive before their predecessors'. */
const EXTRA_RANGES = 64;

/**
 * The uplink's window of batches in flight (docs/delivery-guarantee.md §1, §3). Batches are read
 * back to back: each one after the last id of the one before, or after the cursor when none is in
 * flight. A batch therefore covers exactly the stream entries between its `after` and its `last`.
 *
 * Acks may arrive in any order (receivers sharing a subscription). Each ack proves one stretch
 * committed; the cursor moves only across stretches that join it without a hole: a stretch whose
 * `after` lies at or before the cursor and whose `last` lies after it. Stretches that do not join
 * yet wait here until their predecessors' acks arrive.
 *
 * The proof holds only while the stream keeps the ids it had when the batch was read. A Redis that
 * restarted may have rolled its stream back and may then give new entries ids inside an old
 * stretch, so {@link newEpoch} forgets everything, and acks of batches read before it count no more.
 */
export class SendWindow {
  private batches: InFlightBatch[] = [];
  private ranges: AckedRange[] = [];
  private epochValue = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a send window holds at least one batch, not ${capacity}`);
    this.capacity = capacity;
  }

  /** Changes whenever the stream's ids may have changed under the batches read before. */
  get epoch(): number {
    return this.epochValue;
  }

  get inFlight(): readonly InFlightBatch[] {
    return this.batches;
  }

  get full(): boolean {
    return this.batches.length >= this.capacity;
  }

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /**
   * Where the next batch is read from: after the newest batch in flight, else after the cursor;
   * then past stretches already acknowledged, so a batch acked before a re-send is not sent again.
   */
  readPosition(cursor: Cursor): Cursor {
    let at = this.batches.at(-1)?.last ?? cursor;
    for (let joined = this.joining(at); joined !== undefined; joined = this.joining(at)) at = joined.last;
    return at;
  }

  /** The oldest batch in flight: the one whose ack the cursor waits for first. */
  get oldest(): InFlightBatch | undefined {
    return this.batches[0];
  }

  add(batch: InFlightBatch): void {
    this.batches.push(batch);
  }

  /**
   * Records an acknowledged stretch and returns where the cursor can move to (undefined when it
   * cannot move yet). Batches the new cursor covers leave the window.
   */
  acknowledge(range: AckedRange, cursor: Cursor): Cursor | undefined {
    if (isAfter(range.last, cursor)) this.ranges.push(range);
    let moved: Cursor | undefined;
    let at = cursor;
    for (let joined = this.joining(at); joined !== undefined; joined = this.joining(at)) {
      at = joined.last;
      moved = at;
    }
    this.ranges = this.ranges.filter((r) => isAfter(r.last, at));
    const limit = this.capacity + EXTRA_RANGES;
    if (this.ranges.length > limit) this.ranges = this.ranges.slice(-limit);
    if (moved !== undefined) this.batches = this.batches.filter((b) => isAfter(b.last, moved));
    return moved;
  }

  /**
   * Forgets the batches in flight, so the next batch is read from the cursor again (an ack
   * timeout or a new connection). Acknowledged stretches stay: they are still true.
   */
  resend(): void {
    this.batches = [];
  }

  /** Forgets everything: the stream may have changed under what was read (Redis reconnected). */
  newEpoch(): void {
    this.batches = [];
    this.ranges = [];
    this.epochValue++;
  }

  private joining(cursor: Cursor): AckedRange | undefined {
    return this.ranges.find((r) => atOrBefore(r.after, cursor) && isAfter(r.last, cursor));
  }
}

/** `after` lies at or before `cursor` (undefined is the stream's beginning). */
function atOrBefore(after: Cursor, cursor: Cursor): boolean {
  if (after === undefined) return true;
  return cursor !== undefined && !isAfter(after, cursor);
}
