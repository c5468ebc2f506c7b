import { decodeOriginalReading, encodeOriginalReading, originalReading, readingFields, shutdownFields } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

const BOOT = '9f2c4e1a7b3d5f60';
const stamp = { deviceId: 'dev-1', deviceType: 'raspberrypi4-64', appId: '123', appName: 'fleet' };

describe('original readings codec', () => {
  it('round-trips one of our readings re-sent by send_measurements, identity included', () => {
    const element = encodeOriginalReading('1700000000000-0', readingFields({ bootId: BOOT, seq: 7 }, 1_699_999_999_999, { temperature_celsius: 21.5 }), stamp);
    expect(element).toEqual({
      _id: '1700000000000-0',
      _device_uuid: 'dev-1',
      _device_type: 'raspberrypi4-64',
      _app_id: '123',
      _app_name: 'fleet',
      temperature_celsius: '21.5',
      _boot_id: BOOT,
      _seq: '7',
      _measured_at: '1699999999999',
    });
    expect(originalReading.parse(element)).toEqual(element);
    expect(decodeOriginalReading(element)).toEqual({
      ok: true,
      value: { kind: 'reading', identity: { bootId: BOOT, seq: 7 }, measuredAt: 1_699_999_999_999, values: { temperature_celsius: 21.5 } },
    });
  });

  it('round-trips a re-sent shutdown marker', () => {
    const element = encodeOriginalReading('1700000000950-0', shutdownFields(BOOT, 9, 5), { deviceId: 'dev-1' });
    expect(decodeOriginalReading(element)).toEqual({ ok: true, value: { kind: 'shutdown', bootId: BOOT, lastSeq: 9, at: 5 } });
  });

  it('never lets a stream field override whom the reading came from', () => {
    expect(encodeOriginalReading('1-0', ['_device_uuid', 'someone-else', 't', '1'], { deviceId: 'dev-1' })).toEqual({ _id: '1-0', _device_uuid: 'dev-1', t: '1' });
  });

  it("reads the original's readings: free-form names, no identity, dated by the stream id", () => {
    expect(decodeOriginalReading({ _id: '1700000000000-0', _device_uuid: 'old-1', random: '42', Temperature: '21.5' })).toEqual({
      ok: true,
      value: { kind: 'reading', identity: null, measuredAt: 1_700_000_000_000, values: { random: 42, Temperature: 21.5 } },
    });
  });

  it.each([
    ['a word', 'n/a', 'n/a'],
    ['a status', 'ok', 'ok'],
    ['hex, never 16', '0x10', '0x10'],
    ['hex, never 26', '0x1A', '0x1A'],
    ['blanks around a number, never 12', ' 12 ', ' 12 '],
    ['a number beyond a double, never Infinity', '1e400', '1e400'],
    ['a decimal longer than any sensor writes', `0.${'1'.repeat(40)}`, `0.${'1'.repeat(40)}`],
    ['the empty string', '', ''],
    ['text of 256 characters', 'é'.repeat(256), 'é'.repeat(256)],
    ['a strict number', '-12.5e-1', -1.25],
  ])('keeps %s as given (docs/protocol.md §9)', (_what, text, value) => {
    expect(decodeOriginalReading({ _id: '1-0', status: text })).toEqual({ ok: true, value: { kind: 'reading', identity: null, measuredAt: 1, values: { status: value } } });
  });

  it.each([
    ['no sensor values', { _id: '1-0', _device_uuid: 'x' }, 'wrong_shape', 'entry 1-0: no sensor values'],
    ['a boot id without sequence', { _id: '1-0', _boot_id: BOOT, t: '1' }, 'wrong_shape', 'entry 1-0: _seq is missing'],
    ['a sequence without boot id', { _id: '1-0', _seq: '3', t: '1' }, 'wrong_shape', 'entry 1-0: _boot_id is missing'],
    ['a malformed boot id', { _id: '1-0', _boot_id: 'xyz', _seq: '3', t: '1' }, 'wrong_type', /_boot_id "xyz" must be 16 lowercase hex/],
    ['a fractional sequence', { _id: '1-0', _boot_id: BOOT, _seq: '7.0', t: '1' }, 'wrong_type', /_seq "7.0" is not/],
    ['a malformed time', { _id: '1-0', _measured_at: 'noon', t: '1' }, 'wrong_type', /_measured_at "noon" is not/],
    ['an undatable stream id', { _id: '9007199254740993-0', t: '1' }, 'out_of_range', /later than any date can be .* cannot date the reading/],
    ['a stream id past any date', { _id: '8640000000000001-0', t: '1' }, 'out_of_range', /later than any date can be .* cannot date the reading/],
    ['a time past any date', { _id: '1-0', _measured_at: '9000000000000000', t: '1' }, 'out_of_range', /_measured_at 9000000000000000 is later than any date can be/],
    ['a time of 1e300', { _id: '1-0', _measured_at: '1e300', t: '1' }, 'wrong_type', /_measured_at "1e300" is not a non-negative whole number/],
    ['a bad sequence, which must not drop the identity', { _id: '1-0', _boot_id: BOOT, _seq: 'x', t: '1' }, 'wrong_type', /_seq "x" is not/],
    ['a sequence of 1e300', { _id: '1-0', _boot_id: BOOT, _seq: '1e300', t: '1' }, 'wrong_type', /_seq "1e300" is not/],
    ['a sequence beyond 2^53 (stored as …992)', { _id: '1-0', _boot_id: BOOT, _seq: '9007199254740993', t: '1' }, 'out_of_range', /_seq 9007199254740993 is too large to hold exactly/],
    ['a name with markup', { _id: '1-0', '<script>': '1' }, 'wrong_shape', /"<script>" is not a name for sensor values/],
    ['a name with a control character', { _id: '1-0', 'a\u0001b': '1' }, 'wrong_shape', /"a\\u0001b" is not a name/],
    ['a name with a blank', { _id: '1-0', 'air temp': '1' }, 'wrong_shape', /"air temp" is not a name/],
    ['a name of 5000 characters', { _id: '1-0', [`t${'x'.repeat(4999)}`]: '1' }, 'wrong_shape', /is not a name for sensor values: .*\(it has 5000\)/],
    ['an unknown event', { _id: '1-0', _event: 'reboot', _boot_id: BOOT, _seq: '1' }, 'wrong_shape', 'entry 1-0: unknown event "reboot"'],
    ['a marker without identity', { _id: '1-0', _event: 'shutdown' }, 'wrong_shape', 'entry 1-0: _boot_id is missing'],
    ['a text value with a control character', { _id: '1-0', status: 'ok\u0000' }, 'wrong_type', 'entry 1-0: status: the text value "ok\\u0000" contains a control character'],
    ['a text value with a line break', { _id: '1-0', status: 'line\nbreak' }, 'wrong_type', /status: the text value .* contains a control character/],
    ['a text value with a lone surrogate', { _id: '1-0', status: 'x\ud800' }, 'wrong_type', 'entry 1-0: status: the text value is not well-formed Unicode (a lone surrogate)'],
    ['a text value of 257 characters', { _id: '1-0', status: 'x'.repeat(257) }, 'wrong_type', 'entry 1-0: status: a text value of 257 characters; at most 256'],
  ])('rejects %s', (_what, element, reason, detail) => {
    const decoded = decodeOriginalReading(element);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.rejection.reason).toBe(reason);
    if (typeof detail === 'string') expect(decoded.rejection.detail).toBe(detail);
    else expect(decoded.rejection.detail).toMatch(detail);
  });
});
