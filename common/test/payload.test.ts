import { decodeAck, decodeJson, decodeJsonPayload, decodePayload, encodeAck, readingsBatch } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

describe('JSON payloads', () => {
  it('names oversize and non-JSON payloads', () => {
    expect(decodeJson(Buffer.alloc(11, 'a'), 10)).toEqual({ ok: false, rejection: { reason: 'oversize', detail: 'payload is 11 bytes; the limit is 10' } });
    const notJson = decodeJson(Buffer.from('{"v":1,'), 100);
    expect(notJson.ok === false && notJson.rejection.reason).toBe('not_json');
  });

  it('tells a missing field (wrong shape) from a field of the wrong type, and an unknown version', () => {
    const base = { v: 1, device: 'dev-1', batch: 'b', sent_at: 1, entries: [{}] };
    const missing = decodePayload(readingsBatch, { ...base, batch: undefined });
    expect(missing.ok === false && missing.rejection.reason).toBe('wrong_shape');
    const wrongType = decodePayload(readingsBatch, { ...base, sent_at: 'yesterday' });
    expect(wrongType.ok === false && wrongType.rejection).toMatchObject({ reason: 'wrong_type', detail: expect.stringContaining('sent_at') });
    const v2 = decodePayload(readingsBatch, { ...base, v: 2, device: 42 });
    expect(v2.ok === false && v2.rejection).toEqual({ reason: 'unsupported_version', detail: 'protocol version 2 is not supported; this side speaks v1' });
    const array = decodePayload(readingsBatch, [1, 2]);
    expect(array.ok === false && array.rejection.reason).toBe('wrong_type');
  });

  it('checks size before parsing and the schema after', () => {
    expect(decodeJsonPayload(readingsBatch, Buffer.from('[]'), 1)).toMatchObject({ ok: false, rejection: { reason: 'oversize' } });
    expect(decodeJsonPayload(readingsBatch, Buffer.from('{"v":1}'), 100)).toMatchObject({ ok: false, rejection: { reason: 'wrong_shape' } });
  });
});

describe('ack codec', () => {
  const fields = { batch: '1700000000000-0..1700000000950-0', up_to: '1700000000950-0', stored: 1, duplicates: 0, rejected: 0 };

  it('round-trips the example of docs/protocol.md', () => {
    const payload = encodeAck(fields);
    expect(JSON.parse(payload)).toEqual({ v: 1, ...fields });
    expect(decodeAck(Buffer.from(payload))).toEqual({ ok: true, value: { v: 1, ...fields } });
  });

  it.each([
    ['not JSON', 'ack', 'not_json'],
    ['another version', JSON.stringify({ v: 2, ...fields }), 'unsupported_version'],
    ['no up_to', JSON.stringify({ v: 1, ...fields, up_to: undefined }), 'wrong_shape'],
    ['an up_to that is no stream id', JSON.stringify({ v: 1, ...fields, up_to: '(1700000000950-0' }), 'wrong_shape'],
    ['an up_to beyond 64 bits', JSON.stringify({ v: 1, ...fields, up_to: '18446744073709551616-0' }), 'wrong_shape'],
    ['counts as text', JSON.stringify({ v: 1, ...fields, stored: '1' }), 'wrong_type'],
    ['a negative count', JSON.stringify({ v: 1, ...fields, duplicates: -1 }), 'wrong_shape'],
    ['a fractional count', JSON.stringify({ v: 1, ...fields, rejected: 0.5 }), 'wrong_type'],
  ])('rejects %s', (_what, payload, reason) => {
    const decoded = decodeAck(Buffer.from(payload));
    expect(decoded.ok === false && decoded.rejection.reason).toBe(reason);
  });

  it('rejects an ack over the size limit without parsing it', () => {
    expect(decodeAck(Buffer.from(encodeAck(fields)), 10)).toMatchObject({ ok: false, rejection: { reason: 'oversize' } });
  });
});
