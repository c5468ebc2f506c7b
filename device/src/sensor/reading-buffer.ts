/** A reading on its way into the Redis stream. */
export interface PendingReading {
  seq: number;
  measuredAt: number;
  values: Readonly<Record<string, number>>;
  /** Field/value pairs for XADD, prepared once. */
  fields: readonly string[];
}

/**
 * The sensor's bounded, ordered buffer between measuring and Redis. Readings leave from the front
 * only once Redis acknowledged them. When full, the oldest reading is dropped, because a fresh
 * reading is worth more than a stale one, and the drop leaves a visible gap in the sequence.
 */
export class ReadingBuffer {
  readonly capacity: number;
  private items: (PendingReading | undefined)[] = [];
  private head = 0;
  private droppedTotal = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`buffer capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Readings dropped because the buffer was full, since start. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Appends a reading; returns the one dropped to make room, if any. */
  push(reading: PendingReading): PendingReading | undefined {
    let dropped: PendingReading | undefined;
    if (this.length >= this.capacity) {
      dropped = this.shift();
      this.droppedTotal++;
    }
    this.items.push(reading);
    return dropped;
  }

  /** The first `count` readings, oldest first, without removing them. */
  peek(count: number): PendingReading[] {
    return this.items.slice(this.head, this.head + count) as PendingReading[];
  }

  /** Removes and returns the oldest reading. */
  shift(): PendingReading | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
