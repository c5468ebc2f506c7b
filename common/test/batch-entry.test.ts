import { decodeBatchEntry, decodeStreamEntry, encodeBatchEntry, readingEntry, readingFields, shutdownEntry, shutdownFields } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

const BOOT = '9f2c4e1a7b3d5f60';

/** Stream entry → batch entry → JSON → received entry, as uplink and receiver do it. */
function throughTheWire(id: string, flat: string[]) {
  const stream = decodeStreamEntry(flat);
  if (!stream.ok) throw new Error(stream.rejection.detail);
  const sent = encodeBatchEntry(id, stream.value);
  return { stream: stream.value, sent, received: decodeBatchEntry(JSON.parse(JSON.stringify(sent))) };
}

describe('batch entry codec', () => {
  it('carries a reading from the stream to the receiver unchanged, in the shape of docs/protocol.md §4', () => {
    const { stream, sent, received } = throughTheWire('1700000000000-0', readingFields({ bootId: BOOT, seq: 41 }, 1_699_999_999_990, { temperature_celsius: 21.53 }));
    expect(sent).toEqual({ id: '1700000000000-0', boot: BOOT, seq: 41, at: 1_699_999_999_990, values: { temperature_celsius: 21.53 } });
    expect(readingEntry.parse(sent)).toEqual(sent);
    expect(received).toEqual({ ok: true, value: { streamId: '1700000000000-0', record: stream } });
  });

  it('carries a shutdown marker unchanged', () => {
    const { stream, sent, received } = throughTheWire('1700000000950-0', shutdownFields(BOOT, 42, 1_700_000_000_940));
    expect(sent).toEqual({ id: '1700000000950-0', boot: BOOT, seq: 42, at: 1_700_000_000_940, event: 'shutdown' });
    expect(shutdownEntry.parse(sent)).toEqual(sent);
    expect(received).toEqual({ ok: true, value: { streamId: '1700000000950-0', record: stream } });
  });

  it('ignores fields a newer sender adds', () => {
    const entry = { id: '1-0', boot: BOOT, seq: 1, at: 1, values: { t: 1 }, fields: 'new', oversize_bytes: 0 };
    expect(decodeBatchEntry(entry)).toMatchObject({ ok: true, value: { record: { kind: 'reading' } } });
  });

  const good = { id: '1-0', boot: BOOT, seq: 1, at: 1, values: { t: 1 } };
  it.each([
    ['a string', 'reading', 'wrong_type', 'an entry must be an object (got string)'],
    ['null', null, 'wrong_type', 'an entry must be an object (got null)'],
    ['an array', [good], 'wrong_type', 'an entry must be an object (got an array)'],
    ['an empty object', {}, 'wrong_shape', /id: .*boot: /],
    ['a bad stream id', { ...good, id: '1-x' }, 'wrong_shape', /id: must be a Redis stream id/],
    ['a stream id beyond 64 bits', { ...good, id: '18446744073709551616-0' }, 'wrong_shape', /id: must be a Redis stream id/],
    ['a missing sequence', { ...good, seq: undefined }, 'wrong_shape', /seq/],
    ['a sequence as text', { ...good, seq: 'seven' }, 'wrong_type', /seq: .*expected number/],
    ['sequence 0 on a reading', { ...good, seq: 0 }, 'wrong_shape', /seq/],
    ['an unsafe sequence', { ...good, seq: 2 ** 53 + 2 }, 'out_of_range', /seq/],
    ['a sequence of 1e300', { ...good, seq: 1e300 }, 'out_of_range', /seq: Too big/],
    ['a fractional sequence', { ...good, seq: 1.5 }, 'wrong_type', /seq/],
    ['a time beyond any date', { ...good, at: 8_640_000_000_000_001 }, 'out_of_range', /at: is later than any date can be/],
    ['a time beyond 2^53', { ...good, at: 1e300 }, 'out_of_range', /at: /],
    ['a value as hex text', { ...good, values: { t: '0x1A' } }, 'wrong_type', /values\.t: .*expected number/],
    ['a value as text', { ...good, values: { t: '21.5' } }, 'wrong_type', /values\.t/],
    ['no values', { ...good, values: {} }, 'wrong_shape', /at least one value/],
    ['an upper-case value name', { ...good, values: { T: 1 } }, 'wrong_shape', /values/],
    ['an unknown event', { ...good, values: undefined, event: 'reboot' }, 'wrong_shape', /event/],
    ['an oversize marker', { id: '3-0', oversize_bytes: 300_000 }, 'oversize', 'entry 3-0 of 300000 bytes fits in no batch; the device sent only its id'],
    ['a raw foreign entry', { id: '4-0', fields: { foo: 'bar' } }, 'wrong_type', 'entry 4-0, sent raw by the device: foo: "bar" is not a number'],
    ['a raw entry without identity', { id: '4-1', fields: { t: '1' } }, 'wrong_shape', 'entry 4-1, sent raw by the device: _boot_id is missing'],
    ['raw fields that are not strings', { id: '4-2', fields: { t: 1 } }, 'wrong_type', 'entry 4-2: field t must be a string as Redis holds it'],
    ['a readable entry sent raw', { id: '4-3', fields: { t: '1', _boot_id: BOOT, _seq: '1', _measured_at: '1' } }, 'wrong_shape', /sent raw although its fields read as a reading/],
  ])('rejects %s', (_what, entry, reason, detail) => {
    const decoded = decodeBatchEntry(entry);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.rejection.reason).toBe(reason);
    if (typeof detail === 'string') expect(decoded.rejection.detail).toBe(detail);
    else expect(decoded.rejection.detail).toMatch(detail);
  });

  it('accepts a reading exactly when the schema does (the fast path checks by hand)', () => {
    const variants: unknown[] = [
      good,
      { ...good, values: { t: 1, u: -0, w: 1e308 } },
      { ...good, values: { t: Number.NaN } },
      { ...good, values: { t: 1, T: 2 } },
      { ...good, values: { ['t'.repeat(64)]: 1 } },
      { ...good, values: { ['t'.repeat(65)]: 1 } },
      { ...good, values: [1] },
      { ...good, values: null },
      { ...good, seq: Number.MAX_SAFE_INTEGER },
      { ...good, seq: 0.5 },
      { ...good, at: -1 },
      { ...good, at: 8_640_000_000_000_000 },
      { ...good, boot: 'ABCDEF0123456789' },
      { ...good, id: '18446744073709551615-18446744073709551615' },
      { ...good, id: 7 },
    ];
    for (const entry of variants) {
      expect(decodeBatchEntry(entry).ok, JSON.stringify(entry)).toBe(readingEntry.safeParse(entry).success);
    }
  });
});
