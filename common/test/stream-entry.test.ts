import { decodeStreamEntry, FIELD, readingFields, shutdownFields } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

const BOOT = '9f2c4e1a7b3d5f60';
/** A valid reading's identity fields, to put beside the values under test. */
const identity = (seq = '1', at = '1700000000000') => [FIELD.bootId, BOOT, FIELD.seq, seq, FIELD.measuredAt, at];

describe('stream entry codec', () => {
  it('round-trips a reading as the sensor writes it', () => {
    const values = { temperature_celsius: 21.53, humidity_percent: 45.1, pressure_hpa: 1013.2, tiny: 1e-7, negative: -3 };
    const flat = readingFields({ bootId: BOOT, seq: 41 }, 1_699_999_999_990, values);
    expect(decodeStreamEntry(flat)).toEqual({
      ok: true,
      value: { kind: 'reading', identity: { bootId: BOOT, seq: 41 }, measuredAt: 1_699_999_999_990, values },
    });
  });

  it('round-trips a clean-shutdown marker, also of a boot that recorded nothing', () => {
    for (const lastSeq of [42, 0]) {
      expect(decodeStreamEntry(shutdownFields(BOOT, lastSeq, 1_700_000_000_940))).toEqual({
        ok: true,
        value: { kind: 'shutdown', bootId: BOOT, lastSeq, at: 1_700_000_000_940 },
      });
    }
  });

  it('writes values without float noise, and reads them back as written', () => {
    const flat = readingFields({ bootId: BOOT, seq: 1 }, 1, { t: 0.1 + 0.2 });
    expect(flat.slice(0, 2)).toEqual(['t', '0.3']);
    const decoded = decodeStreamEntry(flat);
    expect(decoded.ok && decoded.value.kind === 'reading' && decoded.value.values).toEqual({ t: 0.3 });
  });

  it('skips identity fields a newer sensor may add', () => {
    const decoded = decodeStreamEntry(['t', '1', ...identity(), '_calibrated', 'yes']);
    expect(decoded).toMatchObject({ ok: true, value: { kind: 'reading', values: { t: 1 } } });
  });

  it.each([
    // Pairs and names.
    ['an odd field list', ['t', '1', ...identity(), 'x'], 'wrong_shape', 'fields and values do not pair up (9 items)'],
    ['a field twice', ['t', '1', 't', '2', ...identity()], 'wrong_shape', 'field t appears twice'],
    ['an identity field twice', ['t', '1', ...identity(), FIELD.seq, '2'], 'wrong_shape', 'field _seq appears twice'],
    ['an upper-case sensor name', ['Temp', '1', ...identity()], 'wrong_shape', /"Temp" is not a name for sensor values/],
    ['a sensor name with a dash', ['temp-1', '1', ...identity()], 'wrong_shape', /"temp-1" is not a name/],
    // Values.
    ['a word as value', ['t', 'warm', ...identity()], 'wrong_type', 't: "warm" is not a number'],
    ['an empty value (Number("") would be 0)', ['t', '', ...identity()], 'wrong_type', 't: "" is not a number'],
    ['a hex value', ['t', '0x10', ...identity()], 'wrong_type', 't: "0x10" is not a number'],
    ['a value with blanks', ['t', ' 1', ...identity()], 'wrong_type', 't: " 1" is not a number'],
    ['NaN', ['t', 'NaN', ...identity()], 'wrong_type', 't: "NaN" is not a number'],
    ['Infinity', ['t', 'Infinity', ...identity()], 'wrong_type', 't: "Infinity" is not a number'],
    ['a value beyond a double', ['t', '1e999', ...identity()], 'wrong_type', 't: 1e999 is too large for a number'],
    ['a value of 5000 digits', ['t', `0.${'1'.repeat(4998)}`, ...identity()], 'wrong_type', 't: a value of 5000 characters is no number a sensor writes (at most 32)'],
    ['a name of 65 characters', [`t${'x'.repeat(64)}`, '1', ...identity()], 'wrong_shape', /is not a name for sensor values: at most 64 .* \(it has 65\)$/],
    // Identity.
    ['no boot id', ['t', '1', FIELD.seq, '1', FIELD.measuredAt, '1'], 'wrong_shape', '_boot_id is missing'],
    ['an upper-case boot id', ['t', '1', FIELD.bootId, BOOT.toUpperCase(), FIELD.seq, '1', FIELD.measuredAt, '1'], 'wrong_type', /_boot_id "9F2C4E1A7B3D5F60" must be 16 lowercase hex/],
    ['a short boot id', ['t', '1', FIELD.bootId, 'abc', FIELD.seq, '1', FIELD.measuredAt, '1'], 'wrong_type', /must be 16 lowercase hex/],
    ['no sequence', ['t', '1', FIELD.bootId, BOOT, FIELD.measuredAt, '1'], 'wrong_shape', '_seq is missing'],
    ['a word as sequence', ['t', '1', ...identity('seven')], 'wrong_type', '_seq "seven" is not a non-negative whole number'],
    ['a negative sequence', ['t', '1', ...identity('-1')], 'wrong_type', /_seq "-1" is not a non-negative/],
    ['a fractional sequence', ['t', '1', ...identity('1.5')], 'wrong_type', /_seq "1.5" is not/],
    ['sequence 0 on a reading', ['t', '1', ...identity('0')], 'wrong_type', '_seq must be at least 1 (got 0)'],
    ['a sequence beyond 2^53', ['t', '1', ...identity('9007199254740993')], 'out_of_range', '_seq 9007199254740993 is too large to hold exactly (at most 9007199254740991)'],
    ['a sequence of 30 digits', ['t', '1', ...identity('1'.repeat(30))], 'out_of_range', /_seq 1{30} is too large/],
    ['a sequence in exponent notation', ['t', '1', ...identity('1e300')], 'wrong_type', '_seq "1e300" is not a non-negative whole number'],
    ['a sequence with blanks', ['t', '1', ...identity(' 12 ')], 'wrong_type', '_seq " 12 " is not a non-negative whole number'],
    ['no time', ['t', '1', FIELD.bootId, BOOT, FIELD.seq, '1'], 'wrong_shape', '_measured_at is missing'],
    ['a time beyond 2^53', ['t', '1', ...identity('1', '99999999999999999')], 'out_of_range', /_measured_at 99999999999999999 is too large/],
    ['a time beyond any date', ['t', '1', ...identity('1', '8640000000000001')], 'out_of_range', /_measured_at 8640000000000001 is later than any date can be/],
    ['a time in exponent notation', ['t', '1', ...identity('1', '1e300')], 'wrong_type', '_measured_at "1e300" is not a non-negative whole number'],
    ['a negative time', ['t', '1', ...identity('1', '-5')], 'wrong_type', /_measured_at "-5" is not/],
    // Shape.
    ['a reading without values', identity(), 'wrong_shape', 'a reading must contain at least one value'],
    ['an unknown event', [FIELD.event, 'reboot', ...identity()], 'wrong_shape', 'unknown event "reboot"'],
    ['a marker with values', [FIELD.event, 'shutdown', 't', '1', ...identity()], 'wrong_shape', 'a shutdown marker carries no sensor values (got t)'],
    ['a marker without boot id', [FIELD.event, 'shutdown', FIELD.seq, '3', FIELD.measuredAt, '1'], 'wrong_shape', '_boot_id is missing'],
    ['nothing at all', [], 'wrong_shape', '_boot_id is missing'],
  ])('rejects %s', (_what, flat, reason, detail) => {
    const decoded = decodeStreamEntry(flat);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.rejection.reason).toBe(reason);
    if (typeof detail === 'string') expect(decoded.rejection.detail).toBe(detail);
    else expect(decoded.rejection.detail).toMatch(detail);
  });

  it('counts a junk field named __proto__ like any other', () => {
    expect(decodeStreamEntry(['__proto__', 'x', '__proto__', 'y', ...identity()])).toMatchObject({ ok: false, rejection: { detail: 'field __proto__ appears twice' } });
  });
});
