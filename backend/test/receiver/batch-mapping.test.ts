import { readingsBatch } from '@iot/common/protocol';
import { describe, expect, it } from 'vitest';
import { mapBatch, mapOriginalReading } from '../../src/receiver/batch-mapping.ts';
import { parseJson, validate } from '../../src/receiver/classify.ts';

const BOOT = '0123456789abcdef';

describe('classifying payloads', () => {
  it('names oversize and non-JSON payloads', () => {
    expect(parseJson(Buffer.alloc(11, 'a'), 10)).toEqual({ ok: false, rejection: { reason: 'oversize', detail: 'payload is 11 bytes; the limit is 10' } });
    const notJson = parseJson(Buffer.from('{"v":1,'), 100);
    expect(notJson.ok === false && notJson.rejection.reason).toBe('not_json');
  });

  it('tells a missing field (wrong shape) from a field of the wrong type, and an unknown version', () => {
    const base = { v: 1, device: 'dev-1', batch: 'b', sent_at: 1, entries: [{}] };
    const missing = validate(readingsBatch, { ...base, batch: undefined });
    expect(missing.ok === false && missing.rejection.reason).toBe('wrong_shape');
    const wrongType = validate(readingsBatch, { ...base, sent_at: 'yesterday' });
    expect(wrongType.ok === false && wrongType.rejection).toMatchObject({ reason: 'wrong_type', detail: expect.stringContaining('sent_at') });
    const v2 = validate(readingsBatch, { ...base, v: 2 });
    expect(v2.ok === false && v2.rejection.reason).toBe('unsupported_version');
    const array = validate(readingsBatch, [1, 2]);
    expect(array.ok === false && array.rejection.reason).toBe('wrong_type');
  });
});

describe('mapping a v1 batch', () => {
  it('keeps readings and markers, rejects bad entries, and covers the largest stream id', () => {
    const mapped = mapBatch({
      v: 1,
      device: 'dev-1',
      batch: 'x',
      sent_at: 0,
      entries: [
        { id: '1700000000000-9', boot: BOOT, seq: 1, at: 5, values: { temperature_celsius: 21.5 } },
        { id: '1700000000000-10', boot: BOOT, seq: 2, at: 6, values: { temperature_celsius: 'warm' } },
        { id: '1700000000001-0', boot: BOOT, seq: 2, at: 7, event: 'shutdown' },
      ],
    });
    expect(mapped.readings).toEqual([
      { bootId: BOOT, seq: 1, streamId: '1700000000000-9', measuredAt: 5, values: { temperature_celsius: 21.5 } },
    ]);
    expect(mapped.shutdowns).toEqual([{ bootId: BOOT, seq: 2, at: 7 }]);
    expect(mapped.rejected).toHaveLength(1);
    expect(mapped.rejected[0]!.rejection.reason).toBe('wrong_type');
    // Numerically, not as strings: "...-10" comes after "...-9".
    expect(mapped.upTo).toBe('1700000000001-0');
  });
});

describe('mapping original-format readings', () => {
  it('identifies original readings by stream id and ours by boot and sequence', () => {
    expect(mapOriginalReading({ _id: '1700000000000-0', temperature_celsius: '21.5' })).toEqual({
      reading: { bootId: null, seq: null, streamId: '1700000000000-0', measuredAt: 1700000000000, values: { temperature_celsius: 21.5 } },
    });
    expect(mapOriginalReading({ _id: '1700000000000-0', _boot_id: BOOT, _seq: '7', _measured_at: '1699999999999', humidity_percent: '40' })).toMatchObject({
      reading: { bootId: BOOT, seq: 7, measuredAt: 1699999999999 },
    });
  });

  it('turns a re-sent shutdown marker back into a marker and rejects non-numeric values', () => {
    expect(mapOriginalReading({ _id: '1-0', _boot_id: BOOT, _seq: '9', _event: 'shutdown', _measured_at: '5' })).toEqual({ shutdown: { bootId: BOOT, seq: 9, at: 5 } });
    expect(mapOriginalReading({ _id: '1-0', temperature_celsius: 'n/a' })).toMatchObject({ rejection: { reason: 'wrong_type' } });
    expect(mapOriginalReading({ _id: '1-0', _device_uuid: 'x' })).toMatchObject({ rejection: { reason: 'wrong_shape' } });
  });
});
