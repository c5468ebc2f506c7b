import type { RejectionReason } from '@iot/common/protocol';

/**
 * The malformed classes the fuzz test (fuzz.test.ts) publishes, each with what the receiver must
 * record for one message of it: how many parts (the message itself, or its bad entries or
 * elements) under which reason. Every message is malformed throughout: it holds nothing that may
 * be stored, so anything stored from these devices is a defect.
 */
export type FuzzChannel = 'readings' | 'values' | 'status' | 'response' | 'config/reported';

export interface FuzzClass {
  name: string;
  channel: FuzzChannel;
  /** Messages of this class per run: heavy ones (large or slow to check) fewer. */
  messages: number;
  /** The payload of message `i` from `device`. */
  make(device: string, i: number): string | Buffer;
  /** Reason → parts recorded for one message. */
  expected: Partial<Record<RejectionReason, number>>;
  /** A v1 batch whose entries are all bad: still acknowledged (stored 0, rejected = parts), so the device moves on. */
  acked?: boolean;
}

const BOOT = 'f0f0f0f0f0f0f0f0';
const LIGHT = 145;
const HEAVY = 10;

const batchOf = (device: string, i: number, entries: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ v: 1, device, batch: `fuzz-${i}`, sent_at: 1_700_000_000_000, entries, ...extra });
const entry = (i: number, k: number, over: Record<string, unknown> = {}) => ({
  id: `${1_700_000_000_000 + i}-${k}`,
  boot: BOOT,
  seq: i * 10 + k + 1,
  at: 1_700_000_000_000 + i,
  values: { temperature_celsius: 21.5 },
  ...over,
});
const element = (device: string, i: number, over: Record<string, unknown> = {}) => ({ _id: `${1_600_000_000_000 + i}-0`, _device_uuid: device, temperature_celsius: '21.5', ...over });
const many = (count: number, make: (n: number) => [string, unknown]) => Object.fromEntries(Array.from({ length: count }, (_, n) => make(n)));
/** JSON text with the placeholder string replaced by raw JSON (for what JavaScript cannot write: 1e400, 2^53 + 1, deep nesting). */
const raw = (text: string, json: string) => text.replace('"__RAW__"', json);

/** A message-level v1 rejection: one part, no ack. */
const message = (name: string, reason: RejectionReason, make: FuzzClass['make'], messages = LIGHT): FuzzClass => ({ name, channel: 'readings', messages, make, expected: { [reason]: 1 } });
/** A v1 batch of `k` bad entries, each made by `bad`: consumed and acknowledged. */
const entries = (name: string, reason: RejectionReason, bad: (i: number, k: number) => unknown, k = 2, messages = LIGHT, rawJson?: string): FuzzClass => ({
  name,
  channel: 'readings',
  messages,
  make: (device, i) => {
    const text = batchOf(device, i, Array.from({ length: k }, (_, n) => bad(i, n)));
    return rawJson === undefined ? text : text.replaceAll('"__RAW__"', rawJson);
  },
  expected: { [reason]: k },
  acked: true,
});
/** An original-format message of `k` bad elements: no ack, each element recorded. */
const elements = (name: string, reason: RejectionReason, bad: (device: string, i: number, k: number) => unknown, k = 2, messages = LIGHT): FuzzClass => ({
  name,
  channel: 'values',
  messages,
  make: (device, i) => JSON.stringify(Array.from({ length: k }, (_, n) => bad(device, i * 10 + n, n))),
  expected: { [reason]: k },
});

export const FUZZ_CLASSES: readonly FuzzClass[] = [
  // Whole v1 messages: not JSON, not UTF-8, the wrong shape or types, the wrong version or device.
  message('truncated JSON', 'not_json', (d, i) => batchOf(d, i, [entry(i, 0)]).slice(0, 40)),
  message('garbage text', 'not_json', (_d, i) => `hello ${i} <xml/>`),
  message('empty payload', 'not_json', () => ''),
  message('invalid UTF-8', 'not_utf8', (d, i) => Buffer.concat([Buffer.from(batchOf(d, i, [entry(i, 0)]).slice(0, 30)), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])),
  message('overlong UTF-8', 'not_utf8', (d, i) => Buffer.concat([Buffer.from(`{"v":1,"device":"${d}","batch":"`), Buffer.from([0xc0, 0xaf]), Buffer.from(`${i}"}`)])),
  message('UTF-16 surrogate in UTF-8', 'not_utf8', (d) => Buffer.concat([Buffer.from(`{"device":"${d}","x":"`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])),
  message('a JSON number', 'wrong_type', (_d, i) => String(i)),
  message('a JSON array', 'wrong_type', (d, i) => JSON.stringify([entry(i, 0), d])),
  message('JSON null', 'wrong_type', () => 'null'),
  message('missing fields', 'wrong_shape', (d) => JSON.stringify({ v: 1, device: d })),
  message('sent_at as text', 'wrong_type', (d, i) => batchOf(d, i, [entry(i, 0)], { sent_at: 'yesterday' })),
  message('sent_at "NaN"', 'wrong_type', (d, i) => batchOf(d, i, [entry(i, 0)], { sent_at: 'NaN' })),
  message('negative sent_at', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)], { sent_at: -1 })),
  message('sent_at past any date', 'out_of_range', (d, i) => batchOf(d, i, [entry(i, 0)], { sent_at: 8_640_000_000_000_001 })),
  message('unknown version', 'unsupported_version', (d, i) => batchOf(d, i, [entry(i, 0)], { v: 2 })),
  message('version as text', 'unsupported_version', (d, i) => batchOf(d, i, [entry(i, 0)], { v: '1' })),
  message('another device in the payload', 'device_mismatch', (_d, i) => batchOf('someone-else', i, [entry(i, 0)])),
  message('duplicate keys', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)]).replace('{"v":1,', '{"v":1,"v":1,')),
  message('duplicate keys in an entry', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)]).replace('"boot":', '"seq":7,"boot":')),
  message('no entries', 'wrong_shape', (d, i) => batchOf(d, i, [])),
  message('batch name too long', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)], { batch: 'b'.repeat(101) })),
  message('meta with a control character', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)], { meta: { app_name: 'fleet\u0000' } })),
  message('meta with a lone surrogate', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)], { meta: { device_type: 'pi\ud800' } })),
  message('meta of 20 000 characters', 'wrong_shape', (d, i) => batchOf(d, i, [entry(i, 0)], { meta: { device_type: 'x'.repeat(20_000) } }), HEAVY),
  message('an entry nested 6000 deep', 'wrong_shape', (d, i) => raw(batchOf(d, i, [entry(i, 0, { values: { t: '__RAW__' } })]), `${'['.repeat(6000)}1${']'.repeat(6000)}`), HEAVY),
  message('10 001 entries', 'wrong_shape', (d, i) => batchOf(d, i, Array.from({ length: 10_001 }, () => 0)), HEAVY),
  message('larger than the receiver takes', 'oversize', (d, i) => batchOf(d, i, [entry(i, 0)], { pad: 'p'.repeat(140_000) }), HEAVY),

  // v1 batches whose entries are all bad: each entry is rejected, the batch acknowledged.
  entries('sequence as text', 'wrong_type', (i, k) => entry(i, k, { seq: 'seven' })),
  entries('sequence 1e300', 'out_of_range', (i, k) => entry(i, k, { seq: 1e300 })),
  entries('sequence 2^53 + 1', 'out_of_range', (i, k) => entry(i, k, { seq: '__RAW__' }), 2, LIGHT, '9007199254740993'),
  entries('sequence beyond its column', 'out_of_range', (i, k) => entry(i, k, { seq: 2_147_483_648 + k })),
  entries('sequence 0', 'wrong_shape', (i, k) => entry(i, k, { seq: 0 })),
  entries('negative sequence', 'wrong_shape', (i, k) => entry(i, k, { seq: -5 })),
  entries('fractional sequence', 'wrong_type', (i, k) => entry(i, k, { seq: 1.5 })),
  entries('time past any date', 'out_of_range', (i, k) => entry(i, k, { at: 9_000_000_000_000_000 })),
  entries('value "0x1A"', 'wrong_type', (i, k) => entry(i, k, { values: { t: '0x1A' } })),
  entries('value " 12 "', 'wrong_type', (i, k) => entry(i, k, { values: { t: ' 12 ' } })),
  entries('value "NaN"', 'wrong_type', (i, k) => entry(i, k, { values: { t: 'NaN' } })),
  entries('value "-Infinity"', 'wrong_type', (i, k) => entry(i, k, { values: { t: '-Infinity' } })),
  entries('value 1e400', 'wrong_type', (i, k) => entry(i, k, { values: { t: '__RAW__' } }), 2, LIGHT, '1e400'),
  entries('value as an object', 'wrong_type', (i, k) => entry(i, k, { values: { t: { nested: 1 } } })),
  entries('name with markup', 'wrong_shape', (i, k) => entry(i, k, { values: { '<script>alert(1)</script>': 1 } })),
  entries('name with a control character', 'wrong_shape', (i, k) => entry(i, k, { values: { 'temp\u001b[31m': 1 } })),
  entries('name of 5000 characters', 'wrong_shape', (i, k) => entry(i, k, { values: { [`t${'x'.repeat(4999)}`]: 1 } }), 2, HEAVY),
  entries('2000 fields', 'limit_exceeded', (i, k) => entry(i, k, { values: many(2000, (n) => [`f${n}`, n]) }), 1, HEAVY),
  entries('no values', 'wrong_shape', (i, k) => entry(i, k, { values: {} })),
  entries('values as an array', 'wrong_type', (i, k) => entry(i, k, { values: [1, 2] })),
  entries('bad boot id', 'wrong_shape', (i, k) => entry(i, k, { boot: 'NOT-A-BOOT' })),
  entries('bad stream id', 'wrong_shape', (i, k) => entry(i, k, { id: `${i}-x${k}` })),
  entries('empty object', 'wrong_shape', () => ({})),
  entries('entry as text', 'wrong_type', (i) => `reading ${i}`),
  entries('entry null', 'wrong_type', () => null),
  entries('raw entry that is no reading', 'wrong_type', (i, k) => ({ id: `${1_700_000_000_000 + i}-${k}`, fields: { foo: 'bar' } })),
  entries('oversize marker', 'oversize', (i, k) => ({ id: `${1_700_000_000_000 + i}-${k}`, oversize_bytes: 300_000 })),
  entries('unknown event', 'wrong_shape', (i, k) => entry(i, k, { values: undefined, event: 'reboot' })),
  entries('1000 bad entries', 'wrong_shape', () => ({ seq: 'x' }), 1000, HEAVY),

  // Original-format messages and elements (no acks: each element is rejected on its own).
  { name: 'original: not an array', channel: 'values', messages: LIGHT, make: (d) => JSON.stringify({ _id: '1-0', _device_uuid: d }), expected: { wrong_type: 1 } },
  { name: 'original: not JSON', channel: 'values', messages: LIGHT, make: (_d, i) => `[{"_id":"${i}-0"`, expected: { not_json: 1 } },
  { name: 'original: invalid UTF-8', channel: 'values', messages: LIGHT, make: () => Buffer.from([0x5b, 0x22, 0xe9, 0x22, 0x5d]), expected: { not_utf8: 1 } },
  // "0x1A" and " 12 " are text values now (docs/protocol.md §9), stored as given: not malformed.
  elements('original: text value with a control character', 'wrong_type', (d, i) => element(d, i, { temperature_celsius: 'n/a\u0007' })),
  elements('original: text value of 257 characters', 'wrong_type', (d, i) => element(d, i, { temperature_celsius: 'x'.repeat(257) })),
  elements('original: text value with a lone surrogate', 'wrong_type', (d, i) => element(d, i, { temperature_celsius: 'x\ud800' })),
  elements('original: value as a number', 'wrong_type', (d, i) => element(d, i, { temperature_celsius: 21.5 })),
  elements('original: bad _seq', 'wrong_type', (d, i) => element(d, i, { _boot_id: BOOT, _seq: 'x' })),
  elements('original: _seq 1e300', 'wrong_type', (d, i) => element(d, i, { _boot_id: BOOT, _seq: '1e300' })),
  elements('original: _seq 2^53 + 1', 'out_of_range', (d, i) => element(d, i, { _boot_id: BOOT, _seq: '9007199254740993' })),
  elements('original: name with markup', 'wrong_shape', (d, i) => element(d, i, { '<b onmouseover=x>': '1' })),
  elements('original: name with a control character', 'wrong_shape', (d, i) => element(d, i, { 'a\u0000b': '1' })),
  elements('original: name of 5000 characters', 'wrong_shape', (d, i) => element(d, i, { [`t${'x'.repeat(4999)}`]: '1' }), 2, HEAVY),
  elements('original: _device_type of 20 000 characters', 'wrong_shape', (d, i) => element(d, i, { _device_type: 'x'.repeat(20_000) }), 2, HEAVY),
  elements('original: _measured_at "1e300"', 'wrong_type', (d, i) => element(d, i, { _measured_at: '1e300' })),
  elements('original: _measured_at past any date', 'out_of_range', (d, i) => element(d, i, { _measured_at: '9000000000000000' })),
  elements('original: stream id past any date', 'out_of_range', (d, i) => element(d, i, { _id: `${9_000_000_000_000_000 + i}-0` })),
  elements('original: another device', 'device_mismatch', (_d, i) => element('someone-else', i)),
  elements('original: no _id', 'wrong_shape', (d, i) => element(d, i, { _id: undefined })),
  elements('original: 2000 fields', 'limit_exceeded', (d, i) => element(d, i, many(2000, (n) => [`f${n}`, String(n)])), 1, HEAVY),

  // The other channels the receiver reads.
  { name: 'status: online as text', channel: 'status', messages: LIGHT, make: (_d, i) => JSON.stringify({ v: 1, online: 'yes', at: i }), expected: { wrong_type: 1 } },
  { name: 'status: time past any date', channel: 'status', messages: LIGHT, make: () => JSON.stringify({ v: 1, online: true, at: 9e15 }), expected: { out_of_range: 1 } },
  { name: 'response: no command', channel: 'response', messages: LIGHT, make: (_d, i) => JSON.stringify({ answer: i }), expected: { wrong_shape: 1 } },
  { name: 'reported config: negative version', channel: 'config/reported', messages: LIGHT, make: () => JSON.stringify({ v: 1, version: -1, config: {} }), expected: { wrong_shape: 1 } },
];
