import { describe, expect, it } from 'vitest';
import { mapBatch, mapOriginalReading } from '../../src/receiver/batch-mapping.ts';

const BOOT = '0123456789abcdef';
/** Receive time of the batches below: their readings' times lie within the clock-skew window of it. */
const NOW = 1_700_000_000_000;
const MINUTE = 60_000;

describe('mapping a v1 batch', () => {
  it('keeps readings and markers, rejects bad entries, and covers the largest stream id', () => {
    const mapped = mapBatch({
      v: 1,
      device: 'dev-1',
      batch: 'x',
      sent_at: 0,
      entries: [
        { id: '1700000000000-9', boot: BOOT, seq: 1, at: NOW - 5, values: { temperature_celsius: 21.5 } },
        { id: '1700000000000-10', boot: BOOT, seq: 2, at: NOW - 4, values: { temperature_celsius: 'warm' } },
        { id: '1700000000001-0', boot: BOOT, seq: 2, at: 7, event: 'shutdown' },
      ],
    }, NOW);
    expect(mapped.readings).toEqual([
      { bootId: BOOT, seq: 1, streamId: '1700000000000-9', measuredAt: NOW - 5, values: { temperature_celsius: 21.5 }, clockSkew: false },
    ]);
    expect(mapped.shutdowns).toEqual([{ bootId: BOOT, seq: 2, at: 7 }]);
    expect(mapped.rejected).toHaveLength(1);
    expect(mapped.rejected[0]!.rejection.reason).toBe('wrong_type');
    // Numerically, not as strings: "...-10" comes after "...-9".
    expect(mapped.upTo).toBe('1700000000001-0');
  });

  it('rejects what the uplink could not read, with the stream codec\'s reason, and still covers it', () => {
    const mapped = mapBatch({
      v: 1,
      device: 'dev-1',
      batch: 'x',
      sent_at: 0,
      entries: [
        { id: '1700000000000-0', fields: { foo: 'bar' } },
        { id: '1700000000000-1', oversize_bytes: 300_000 },
        { id: '1700000000000-2', boot: BOOT, seq: 3, at: 8, values: { temperature_celsius: 1 }, added_by_a_newer_sender: true },
      ],
    }, NOW);
    expect(mapped.rejected.map((r) => r.rejection)).toEqual([
      { reason: 'wrong_type', detail: 'entry 1700000000000-0, sent raw by the device: foo: "bar" is not a number' },
      { reason: 'oversize', detail: expect.stringContaining('300000 bytes') },
    ]);
    expect(mapped.readings.map((r) => r.seq)).toEqual([3]);
    expect(mapped.upTo).toBe('1700000000000-2');
  });
});

describe('mapping original-format readings', () => {
  it('identifies original readings by stream id and ours by boot and sequence', () => {
    expect(mapOriginalReading({ _id: '1700000000000-0', temperature_celsius: '21.5' }, NOW)).toEqual({
      reading: { bootId: null, seq: null, streamId: '1700000000000-0', measuredAt: 1700000000000, values: { temperature_celsius: 21.5 }, clockSkew: false },
    });
    expect(mapOriginalReading({ _id: '1700000000000-0', _boot_id: BOOT, _seq: '7', _measured_at: '1699999999999', humidity_percent: '40' }, NOW)).toMatchObject({
      reading: { bootId: BOOT, seq: 7, measuredAt: 1699999999999 },
    });
  });

  it('turns a re-sent shutdown marker back into a marker and keeps non-numeric values as text', () => {
    expect(mapOriginalReading({ _id: '1-0', _boot_id: BOOT, _seq: '9', _event: 'shutdown', _measured_at: '5' }, NOW)).toEqual({ shutdown: { bootId: BOOT, seq: 9, at: 5 } });
    expect(mapOriginalReading({ _id: '1700000000000-0', temperature_celsius: 'n/a', hex: '0x10', padded: ' 12 ' }, NOW)).toMatchObject({
      reading: { values: { temperature_celsius: 'n/a', hex: '0x10', padded: ' 12 ' } },
    });
    expect(mapOriginalReading({ _id: '1-0', temperature_celsius: 'bad\u0007' }, NOW)).toMatchObject({ rejection: { reason: 'wrong_type', detail: expect.stringContaining('temperature_celsius') } });
    expect(mapOriginalReading({ _id: '1-0', _device_uuid: 'x' }, NOW)).toMatchObject({ rejection: { reason: 'wrong_shape' } });
  });

  it('keeps the original\'s free-form sensor names but refuses a half identity', () => {
    expect(mapOriginalReading({ _id: '5-0', Random: '42' }, 5)).toEqual({ reading: { bootId: null, seq: null, streamId: '5-0', measuredAt: 5, values: { Random: 42 }, clockSkew: false } });
    expect(mapOriginalReading({ _id: '5-0', _boot_id: BOOT, t: '1' }, NOW)).toEqual({ rejection: { reason: 'wrong_shape', detail: 'entry 5-0: _seq is missing' } });
  });
});

describe('the clock-skew window (docs/protocol.md §10)', () => {
  const at = (measuredAt: number) => mapOriginalReading({ _id: '1-0', _measured_at: String(measuredAt), t: '1' }, NOW);
  const skew = (measuredAt: number) => {
    const mapped = at(measuredAt);
    return 'reading' in mapped ? mapped.reading.clockSkew : mapped;
  };

  it('flags readings from more than 5 minutes ahead or more than 30 days back, and stores them all', () => {
    expect(skew(NOW + 5 * MINUTE)).toBe(false);
    expect(skew(NOW + 5 * MINUTE + 1)).toBe(true);
    // An honest week-long outage's backlog is not skew...
    expect(skew(NOW - 7 * 24 * 60 * MINUTE)).toBe(false);
    expect(skew(NOW - 30 * 24 * 60 * MINUTE)).toBe(false);
    // ...a Pi that booted without NTP in 1970 is.
    expect(skew(NOW - 30 * 24 * 60 * MINUTE - 1)).toBe(true);
    expect(skew(0)).toBe(true);
  });

  it('applies to v1 readings too, with the configured window', () => {
    const limits = { maxFieldsPerReading: 64, clockSkewFutureMs: 0, clockSkewPastMs: MINUTE };
    const entry = (id: string, seq: number, atMs: number) => ({ id, boot: BOOT, seq, at: atMs, values: { t: 1 } });
    const mapped = mapBatch({ v: 1, device: 'd', batch: 'x', sent_at: 0, entries: [entry('1-0', 1, NOW), entry('1-1', 2, NOW + 1), entry('1-2', 3, NOW - MINUTE - 1)] }, NOW, limits);
    expect(mapped.readings.map((r) => r.clockSkew)).toEqual([false, true, true]);
  });
});
