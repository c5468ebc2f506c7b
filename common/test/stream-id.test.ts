import { compareStreamIds, decodeStreamId, encodeStreamId, isStreamId, MAX_STREAM_ID_PART, streamId, streamIdMs } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

describe('stream id codec', () => {
  it('round-trips ids, the largest Redis can issue included', () => {
    for (const text of ['0-0', '1700000000000-0', '1700000000000-17', `${MAX_STREAM_ID_PART}-${MAX_STREAM_ID_PART}`]) {
      const decoded = decodeStreamId(text);
      expect(decoded.ok && encodeStreamId(decoded.value)).toBe(text);
      expect(isStreamId(text)).toBe(true);
      expect(streamId.safeParse(text).success).toBe(true);
    }
  });

  it.each([
    ['an empty string', '', 'wrong_shape', /is not a stream id like 1700000000000-0/],
    ['the ms part alone', '1700000000000', 'wrong_shape', /is not a stream id/],
    ['a cursor with its "(" prefix', '(1700000000000-0', 'wrong_shape', /is not a stream id/],
    ['blanks', ' 1-0', 'wrong_shape', /is not a stream id/],
    ['a negative part', '1--1', 'wrong_shape', /is not a stream id/],
    ['XADD\'s "*"', '*', 'wrong_shape', /is not a stream id/],
    ['a part beyond 64 bits', '18446744073709551616-0', 'wrong_type', /out of range: each part must be at most 18446744073709551615/],
    ['a sequence beyond 64 bits', '1-99999999999999999999', 'wrong_type', /out of range/],
    ['more than 20 digits', '123456789012345678901-0', 'wrong_shape', /is not a stream id/],
    ['a number', 1700000000000, 'wrong_type', /must be a string .* \(got number\)/],
    ['null', null, 'wrong_type', /got null/],
  ])('rejects %s', (_what, text, reason, detail) => {
    const decoded = decodeStreamId(text);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.rejection.reason).toBe(reason);
    expect(decoded.rejection.detail).toMatch(detail);
    expect(isStreamId(text)).toBe(false);
    expect(streamId.safeParse(text).success).toBe(false);
  });

  it('orders numerically, ms part first, never as strings', () => {
    expect(compareStreamIds('1700000000000-9', '1700000000000-10')).toBe(-1);
    expect(compareStreamIds('999-99', '1000-0')).toBe(-1);
    expect(compareStreamIds('5-5', '5-5')).toBe(0);
    expect(compareStreamIds(`${MAX_STREAM_ID_PART}-0`, '9007199254740993-0')).toBe(1);
  });

  it('dates by the ms part only while it is a safe integer', () => {
    expect(streamIdMs('1700000000000-3')).toBe(1_700_000_000_000);
    expect(streamIdMs('9007199254740993-0')).toBeUndefined();
    expect(streamIdMs('nonsense')).toBeUndefined();
  });
});
