import { readingEntry, readingsBatch, readingFields, shutdownEntry, shutdownFields } from '@iot/common/protocol';
import { buildBatch, type StreamEntry, toWireEntry } from '../src/uplink/index.ts';
import { describe, expect, it } from 'vitest';

const BOOT = '9f2c4e1a7b3d5f60';

/** The example reading of docs/protocol.md §4, as the sensor writes it to the stream. */
const exampleFields = ['temperature_celsius', '21.53', 'humidity_percent', '45.1', 'pressure_hpa', '1013.2', '_boot_id', BOOT, '_seq', '41', '_measured_at', '1699999999990'];

function reading(seq: number, id = `1700000000${String(seq).padStart(3, '0')}-0`): StreamEntry {
  return [id, readingFields({ bootId: BOOT, seq }, 1_700_000_000_000 + seq, { temperature_celsius: 20.5, humidity_percent: 40 + seq })];
}

describe('stream entry → v1 wire entry', () => {
  it('maps a reading to the shape of docs/protocol.md §4 with numbers', () => {
    expect(toWireEntry('1700000000000-0', exampleFields)).toEqual({
      entry: {
        id: '1700000000000-0',
        boot: BOOT,
        seq: 41,
        at: 1699999999990,
        values: { temperature_celsius: 21.53, humidity_percent: 45.1, pressure_hpa: 1013.2 },
      },
    });
  });

  it('maps a clean-shutdown marker', () => {
    expect(toWireEntry('1700000000950-0', shutdownFields(BOOT, 42, 1700000000940))).toEqual({
      entry: { id: '1700000000950-0', boot: BOOT, seq: 42, at: 1700000000940, event: 'shutdown' },
    });
  });

  it('leaves out identity fields it does not know', () => {
    const mapped = toWireEntry('5-0', [...exampleFields, '_calibrated', 'yes']);
    expect(mapped.problem).toBeUndefined();
    expect(mapped.entry).not.toHaveProperty('_calibrated');
  });

  it.each([
    ['a foreign writer', ['foo', 'bar'], /foo: "bar" is not a number/],
    ['an original reading without identity', ['temperature_celsius', '21.5'], /boot/],
    ['an empty value (Number("") would be 0)', ['temperature_celsius', '', '_boot_id', BOOT, '_seq', '1', '_measured_at', '1'], /temperature_celsius: "" is not a number/],
    ['a hex value', ['temperature_celsius', '0x10', '_boot_id', BOOT, '_seq', '1', '_measured_at', '1'], /not a number/],
    ['an unknown event', ['_event', 'reboot', '_boot_id', BOOT, '_seq', '1', '_measured_at', '1'], /unknown event "reboot"/],
    ['a reading without values', ['_boot_id', BOOT, '_seq', '1', '_measured_at', '1'], /at least one value/],
    ['sequence 0', ['t', '1', '_boot_id', BOOT, '_seq', '0', '_measured_at', '1'], /seq/],
    ['a field twice', ['t', '1', 't', '2', '_boot_id', BOOT, '_seq', '1', '_measured_at', '1'], /field t appears twice/],
    ['an upper-case field name', ['Temp', '1', '_boot_id', BOOT, '_seq', '1', '_measured_at', '1'], /values/],
  ])('sends %s raw, with its fields as stored', (_what, flat, problem) => {
    const mapped = toWireEntry('7-3', flat);
    expect(mapped.problem).toMatch(problem);
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    expect(JSON.parse(JSON.stringify(mapped.entry))).toEqual({ id: '7-3', fields });
  });

  it('accepts only what the protocol schemas accept (a sweep over field variants)', () => {
    const texts = ['21.5', '', '-0', '+3', '.5', '5.', '1e3', '1e999', '0x10', 'NaN', ' 1'];
    const integers = [undefined, '0', '1', '42', '-1', '1.5', '9007199254740993', 'x'];
    const boots = [BOOT, BOOT.toUpperCase(), 'short'];
    let accepted = 0;
    for (const text of texts)
      for (const seq of integers)
        for (const at of integers)
          for (const boot of boots)
            for (const event of [undefined, 'shutdown', 'other'])
              for (const name of ['temperature_celsius', 'T', '_ignored']) {
                const flat = [name, text, '_boot_id', boot];
                if (seq !== undefined) flat.push('_seq', seq);
                if (at !== undefined) flat.push('_measured_at', at);
                if (event !== undefined) flat.push('_event', event);
                const mapped = toWireEntry('12-0', flat);
                if (mapped.problem !== undefined) continue;
                accepted++;
                const schema = 'event' in mapped.entry ? shutdownEntry : readingEntry;
                expect(schema.parse(mapped.entry), JSON.stringify(flat)).toEqual(mapped.entry);
              }
    // The sweep must reach both outcomes to mean anything.
    expect(accepted).toBeGreaterThan(20);
  });

  it('keeps a field named __proto__ like any other', () => {
    const mapped = toWireEntry('8-0', ['__proto__', 'x', 'a', 'b']);
    expect(JSON.stringify(mapped.entry)).toBe('{"id":"8-0","fields":{"__proto__":"x","a":"b"}}');
  });
});

describe('batch building', () => {
  const envelope = { device: 'dev-1', sentAt: 1_700_000_001_000, meta: { device_type: 'raspberrypi4-64', app_id: '123' } };

  it('takes up to maxCount entries, names the batch first..last and says whether more wait', () => {
    const entries = [1, 2, 3, 4].map((seq) => reading(seq));
    const batch = buildBatch(entries, envelope, { maxCount: 3, maxBytes: 100_000 })!;
    expect(batch).toMatchObject({ name: '1700000000001-0..1700000000003-0', first: '1700000000001-0', last: '1700000000003-0', count: 3, full: true, problems: [] });
    const payload = readingsBatch.parse(JSON.parse(batch.payload.toString('utf8')));
    expect(payload).toEqual({
      v: 1,
      device: 'dev-1',
      batch: '1700000000001-0..1700000000003-0',
      sent_at: 1_700_000_001_000,
      meta: { device_type: 'raspberrypi4-64', app_id: '123' },
      entries: [1, 2, 3].map((seq) => ({ id: `1700000000${String(seq).padStart(3, '0')}-0`, boot: BOOT, seq, at: 1_700_000_000_000 + seq, values: { temperature_celsius: 20.5, humidity_percent: 40 + seq } })),
    });
    expect(buildBatch(entries.slice(0, 3), envelope, { maxCount: 3, maxBytes: 100_000 })!.full).toBe(false);
    expect(buildBatch([], envelope, { maxCount: 3, maxBytes: 100_000 })).toBeUndefined();
  });

  it('never exceeds maxBytes, fills each batch, and loses no entry across batches', () => {
    const entries = Array.from({ length: 200 }, (_, i) => reading(i + 1, `1700000000000-${i}`));
    const limit = 1500;
    const seen: string[] = [];
    let rest = entries;
    while (rest.length > 0) {
      const batch = buildBatch(rest, envelope, { maxCount: 500, maxBytes: limit })!;
      expect(batch.payload.length).toBeLessThanOrEqual(limit);
      const parsed = readingsBatch.parse(JSON.parse(batch.payload.toString('utf8')));
      seen.push(...(parsed.entries as { id: string }[]).map((e) => e.id));
      const next = rest[batch.count];
      if (next !== undefined) {
        // One more entry and its comma would not have fitted (84 = the longest name the budget reserves).
        const nextBytes = JSON.stringify(toWireEntry(...next).entry).length + 1;
        expect(batch.payload.length + nextBytes).toBeGreaterThan(limit - (84 - batch.name.length));
        expect(batch.full).toBe(true);
      }
      rest = rest.slice(batch.count);
    }
    expect(seen).toEqual(entries.map(([id]) => id));
  });

  it('sends an entry larger than any batch as an oversize marker, alone', () => {
    const huge: StreamEntry = ['9-0', ['note', 'x'.repeat(5000)]];
    const batch = buildBatch([huge, reading(1)], envelope, { maxCount: 500, maxBytes: 1024 })!;
    expect(batch.count).toBe(1);
    expect(batch.full).toBe(true);
    const entry = (JSON.parse(batch.payload.toString('utf8')) as { entries: unknown[] }).entries[0];
    // {"id":"9-0","fields":{"note":"xxx…"}}: 5000 + 33 bytes.
    expect(entry).toEqual({ id: '9-0', oversize_bytes: 5033 });
    expect(batch.problems).toEqual([{ id: '9-0', problem: expect.stringMatching(/5033 bytes does not fit/) }]);
  });
});
