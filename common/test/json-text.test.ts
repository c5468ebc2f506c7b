import { checkJsonStructure, decodeJson, decodePayload, MAX_JSON_DEPTH, originalReading, readingsBatch } from '../src/protocol/index.ts';
import { describe, expect, it } from 'vitest';

/**
 * What JSON.parse and Buffer#toString let through and the payload decoder must not: invalid
 * UTF-8 (silently U+FFFD), duplicate keys (last one wins, other parsers take the first), and
 * nesting deep enough to overflow the stack of whatever recurses over the value later.
 */
describe('payload text rules', () => {
  it('refuses invalid UTF-8 instead of turning it into U+FFFD, and says where', () => {
    const payload = Buffer.concat([Buffer.from('{"t":"21'), Buffer.from([0xff]), Buffer.from('5"}')]);
    expect(decodeJson(payload, 1000)).toEqual({ ok: false, rejection: { reason: 'not_utf8', detail: 'payload of 12 bytes is not valid UTF-8 (the first invalid sequence starts at byte 8)' } });
    // An overlong encoding, a UTF-16 surrogate encoded as UTF-8, and a sequence cut short.
    for (const bytes of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const decoded = decodeJson(Buffer.from([0x22, ...bytes, 0x22]), 100);
      expect(decoded).toMatchObject({ ok: false, rejection: { reason: 'not_utf8', detail: expect.stringContaining('starts at byte 1') } });
    }
    expect(decodeJson(Buffer.from('{"name":"Zürich ☀ 𝄞"}'), 100)).toEqual({ ok: true, value: { name: 'Zürich ☀ 𝄞' } });
  });

  it('refuses an object that names a key twice, however the key is spelled', () => {
    expect(decodeJson(Buffer.from('{"seq":1,"seq":2}'), 100)).toMatchObject({ ok: false, rejection: { reason: 'wrong_shape', detail: expect.stringContaining('"seq" twice') } });
    expect(checkJsonStructure('{"a":1,"\\u0061":2}')).toMatchObject({ ok: false, rejection: { reason: 'wrong_shape' } });
    expect(checkJsonStructure('{"e":[{"id":1,"x":{"id":2}},{"id":3}],"x":"\\"id\\":"}')).toBeUndefined();
    expect(checkJsonStructure('{"a":{"b":1},"a":2}')).toMatchObject({ ok: false });
    expect(checkJsonStructure('[{"k":1},{"k":1}]')).toBeUndefined();
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels before parsing`, () => {
    const deep = (levels: number) => `{"v":1,"entries":[${'['.repeat(levels)}${']'.repeat(levels)}]}`;
    expect(decodeJson(Buffer.from(deep(MAX_JSON_DEPTH - 2)), 100_000).ok).toBe(true);
    expect(decodeJson(Buffer.from(deep(MAX_JSON_DEPTH - 1)), 100_000)).toMatchObject({ ok: false, rejection: { reason: 'wrong_shape', detail: expect.stringContaining('deeper than 32 levels') } });
    expect(decodeJson(Buffer.from(deep(6000)), 100_000)).toMatchObject({ ok: false, rejection: { reason: 'wrong_shape' } });
    // Brackets inside strings are text, not nesting.
    expect(decodeJson(Buffer.from(`{"s":"${'['.repeat(100)}"}`), 1000).ok).toBe(true);
  });

  it('leaves the syntax to JSON.parse', () => {
    for (const text of ['{"a":1', '{"a":"1}', ']', '{"a":1}}', '{"\\x":1}']) {
      expect(decodeJson(Buffer.from(text), 100)).toMatchObject({ ok: false, rejection: { reason: 'not_json' } });
    }
  });
});

describe('text the backend stores', () => {
  const batch = { v: 1, device: 'dev-1', batch: 'b', sent_at: 1, entries: [{}] };

  it('bounds what the sender says about itself to the columns, and refuses control characters and lone surrogates', () => {
    expect(decodePayload(readingsBatch, { ...batch, meta: { device_type: 'raspberrypi4-64', app_name: 'Zürich fleet' } }).ok).toBe(true);
    for (const meta of [{ device_type: 'x'.repeat(101) }, { app_name: 'x'.repeat(201) }, { device_type: 'pi\u0000' }, { app_id: 'a\ud800' }]) {
      expect(decodePayload(readingsBatch, { ...batch, meta })).toMatchObject({ ok: false, rejection: { reason: 'wrong_shape' } });
    }
  });

  it('does the same for the original format', () => {
    expect(originalReading.safeParse({ _id: '1-0', _device_type: 'x'.repeat(20_000), t: '1' }).success).toBe(false);
    expect(originalReading.safeParse({ _id: '1-0', _app_name: 'fleet\n', t: '1' }).success).toBe(false);
    expect(originalReading.safeParse({ _id: '1-0', _device_uuid: 'd'.repeat(65), t: '1' }).success).toBe(false);
    expect(originalReading.safeParse({ _id: '1-0', _device_type: 'raspberrypi3', _app_id: '42', _app_name: 'legacy', t: '1' }).success).toBe(true);
  });

  it('refuses a time later than any date can be, and keeps implausible ones', () => {
    expect(decodePayload(readingsBatch, { ...batch, sent_at: 8_640_000_000_000_001 })).toMatchObject({ ok: false, rejection: { reason: 'out_of_range' } });
    expect(decodePayload(readingsBatch, { ...batch, sent_at: 0 }).ok).toBe(true);
    expect(decodePayload(readingsBatch, { ...batch, sent_at: 8_640_000_000_000_000 }).ok).toBe(true);
  });
});
