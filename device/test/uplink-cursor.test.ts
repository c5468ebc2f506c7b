import { silentLogger } from '@iot/common/log';
import { AckTracker, formatCursor, isAfter, parseCursor, xreadId } from '../src/uplink/index.ts';
import { describe, expect, it } from 'vitest';

describe('uplink cursor (mqtt_sender:last_id)', () => {
  it.each([
    [null, undefined],
    ['(1700000000000-5', '1700000000000-5'],
    ['(1700000000000', '1700000000000-0'],
    // A bare id is XRANGE's inclusive start: continue with it, i.e. after the id before it.
    ['1700000000000-5', '1700000000000-4'],
    ['1700000000000-0', '1699999999999-18446744073709551615'],
    ['1700000000000', '1699999999999-18446744073709551615'],
    ['-', undefined],
    ['0', undefined],
    ['0-0', undefined],
    [' (12-3 ', '12-3'],
  ])('reads %j as "after %s"', (raw, after) => {
    expect(parseCursor(raw)).toEqual({ ok: true, after });
  });

  it.each(['$', 'garbage', '(abc', '12-', '18446744073709551616-0', '(1-18446744073709551616'])('refuses %j', (raw) => {
    expect(parseCursor(raw).ok).toBe(false);
  });

  it('writes the original format and reads it back', () => {
    expect(formatCursor('1700000000000-7')).toBe('(1700000000000-7');
    expect(parseCursor(formatCursor('1700000000000-7'))).toEqual({ ok: true, after: '1700000000000-7' });
    expect(xreadId(undefined)).toBe('0-0');
    expect(xreadId('5-1')).toBe('5-1');
  });

  it('compares stream ids as numbers, never as strings', () => {
    // As strings "9-0" > "10-0" and "5-9" > "5-10".
    expect(isAfter('10-0', '9-0')).toBe(true);
    expect(isAfter('9-0', '10-0')).toBe(false);
    expect(isAfter('5-10', '5-9')).toBe(true);
    expect(isAfter('1700000000000-0', '999999999999-99')).toBe(true);
    expect(isAfter('5-5', '5-5')).toBe(false);
    expect(isAfter('0-1', undefined)).toBe(true);
  });
});

describe('ack matching', () => {
  const tracker = new AckTracker({ logger: silentLogger() });
  tracker.record({ name: '10-0..12-0', after: '9-0', first: '10-0', last: '12-0', count: 3, sentAt: 0, epoch: 0 });
  const ack = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ v: 1, stored: 3, duplicates: 0, rejected: 0, ...fields }));

  it('accepts an ack naming a batch published here with its last id', () => {
    const verdict = tracker.check(ack({ batch: '10-0..12-0', up_to: '12-0' }));
    expect(verdict).toMatchObject({ ok: true, batch: { last: '12-0', count: 3 } });
  });

  it.each([
    ['an unknown batch', { batch: '10-0..99-0', up_to: '99-0' }, 'unknown_batch'],
    ['a known batch with a different up_to', { batch: '10-0..12-0', up_to: '99-0' }, 'up_to_mismatch'],
    ['a malformed up_to', { batch: '10-0..12-0', up_to: '12' }, 'invalid'],
    ['an unsupported version', { v: 2, batch: '10-0..12-0', up_to: '12-0' }, 'invalid'],
  ])('refuses %s', (_what, fields, reason) => {
    expect(tracker.check(ack(fields))).toMatchObject({ ok: false, reason });
  });

  it('forgets the oldest batches beyond the window and 64 more', () => {
    const many = new AckTracker({ logger: silentLogger(), window: 4 });
    for (let i = 1; i <= 69; i++) many.record({ name: `${i}-0..${i}-0`, after: `${i - 1}-0`, first: `${i}-0`, last: `${i}-0`, count: 1, sentAt: 0, epoch: 0 });
    expect(many.check(ack({ batch: '1-0..1-0', up_to: '1-0' })).ok).toBe(false);
    expect(many.check(ack({ batch: '2-0..2-0', up_to: '2-0' })).ok).toBe(true);
  });
});
