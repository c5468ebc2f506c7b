import { describe, expect, it } from 'vitest';
import { SendWindow } from '../src/uplink/send-window.ts';

/** A batch of ids `<after+1>-0` … `<last>-0` (the stream ids of these tests are whole milliseconds). */
const batch = (after: number | undefined, last: number) => ({
  name: `${(after ?? 0) + 1}-0..${last}-0`,
  after: after === undefined ? undefined : `${after}-0`,
  last: `${last}-0`,
  count: last - (after ?? 0),
  sentAt: 0,
});
const stretch = (after: number | undefined, last: number) => ({ after: after === undefined ? undefined : `${after}-0`, last: `${last}-0` });

describe('send window (docs/delivery-guarantee.md §1, §3)', () => {
  it('reads each batch after the one before, and is full at its capacity', () => {
    const window = new SendWindow(2);
    expect(window.readPosition(undefined)).toBeUndefined();
    window.add(batch(undefined, 10));
    expect(window.readPosition(undefined)).toBe('10-0');
    expect(window.full).toBe(false);
    window.add(batch(10, 20));
    expect(window.full).toBe(true);
    expect(window.readPosition(undefined)).toBe('20-0');
  });

  it('moves the cursor only over the stretch that joins it, whatever order the acks come in', () => {
    const window = new SendWindow(3);
    window.add(batch(5, 10));
    window.add(batch(10, 20));
    window.add(batch(20, 30));
    expect(window.acknowledge(stretch(20, 30), '5-0')).toBeUndefined();
    expect(window.acknowledge(stretch(10, 20), '5-0')).toBeUndefined();
    expect(window.inFlight).toHaveLength(3);
    // The first ack joins the cursor, and the two that waited join behind it.
    expect(window.acknowledge(stretch(5, 10), '5-0')).toBe('30-0');
    expect(window.empty).toBe(true);
  });

  it('keeps batches in flight until the cursor covers them', () => {
    const window = new SendWindow(3);
    window.add(batch(undefined, 10));
    window.add(batch(10, 20));
    expect(window.acknowledge(stretch(undefined, 10), undefined)).toBe('10-0');
    expect(window.inFlight.map((b) => b.last)).toEqual(['20-0']);
  });

  it('never moves the cursor over a hole', () => {
    const window = new SendWindow(4);
    // Acks of the 2nd and 4th batches: the 1st and 3rd are missing.
    expect(window.acknowledge(stretch(10, 20), '0-0')).toBeUndefined();
    expect(window.acknowledge(stretch(30, 40), '0-0')).toBeUndefined();
    expect(window.acknowledge(stretch(0, 10), '0-0')).toBe('20-0');
    expect(window.acknowledge(stretch(20, 30), '20-0')).toBe('40-0');
  });

  it('accepts a re-sent stretch that overlaps the cursor, and ignores one behind it', () => {
    const window = new SendWindow(2);
    // Read again from an older cursor after a timeout: it covers the cursor and goes beyond.
    expect(window.acknowledge(stretch(5, 25), '10-0')).toBe('25-0');
    expect(window.acknowledge(stretch(5, 20), '25-0')).toBeUndefined();
  });

  it('after a re-send reads past stretches already acknowledged, so they are not sent again', () => {
    const window = new SendWindow(3);
    window.add(batch(0, 10));
    window.add(batch(10, 20));
    window.add(batch(20, 30));
    window.acknowledge(stretch(10, 20), '0-0');
    window.acknowledge(stretch(20, 30), '0-0');
    window.resend();
    // The first batch again from the cursor…
    expect(window.readPosition('0-0')).toBe('0-0');
    window.add(batch(0, 10));
    // …and the next one after the acknowledged stretches, not after the first batch.
    expect(window.readPosition('0-0')).toBe('30-0');
  });

  it('forgets batches and stretches in a new epoch', () => {
    const window = new SendWindow(2);
    window.add(batch(0, 10));
    window.acknowledge(stretch(10, 20), '0-0');
    const epoch = window.epoch;
    window.newEpoch();
    expect(window.epoch).not.toBe(epoch);
    expect(window.empty).toBe(true);
    // The stretch acknowledged before no longer joins.
    expect(window.acknowledge(stretch(0, 10), '0-0')).toBe('10-0');
  });

  it('refuses a capacity below one', () => {
    expect(() => new SendWindow(0)).toThrow(RangeError);
  });
});
