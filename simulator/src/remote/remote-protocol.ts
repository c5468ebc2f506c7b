import { z } from '@iot/common/config';

/**
 * The remote hardware protocol (docs/hardware-contracts.md §14): newline-delimited JSON over TCP
 * between a device service with HARDWARE=remote (the client) and the simulator service (the
 * server), which holds the simulated hardware of many devices.
 *
 * - The client's first message is `hello`, naming the protocol version and the simulated device;
 *   the server creates the device on the first hello that names it.
 * - Each request `{ "id": n, "op": ..., ... }` gets exactly one response
 *   `{ "id": n, "ok": true, "result"?: ... }` or `{ "id": n, "ok": false, "error": WireError }`.
 *   A connection's requests are carried out one after the other, in the order sent, as a real
 *   driver's calls would be; so a watch registered before a write sees the write's edge.
 * - The client numbers its pins, buses and watches itself (`handle`, `watch`), so it can use a
 *   handle right after sending the request that opens it, and re-open everything under the same
 *   numbers after a reconnect.
 * - The server pushes `{ "event": "edge", "watch": w, "level": 0|1, "atMs": t }` for each
 *   debounced transition a watch asked for. Debounce runs on the server, next to the simulated
 *   pin, so network jitter cannot turn contact bounce into presses.
 */

export const REMOTE_PROTOCOL_VERSION = 1;
export const DEFAULT_HARDWARE_PORT = 7300;
/** How a simulated device is named (SIM_REMOTE_DEVICE). */
export const DEVICE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** No message of this protocol comes near this; a longer line is a broken or hostile peer. */
export const MAX_LINE_LENGTH = 16 * 1024;
/** Most bytes one plain I2C write may carry over the wire (block transfers stop at 32). */
export const MAX_WRITE_BYTES = 256;
/** The longest a Node.js timer waits (2^31 − 1 ms), so the longest debounce a watch can ask for. */
export const MAX_DEBOUNCE_MS = 2_147_483_647;

const id = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const handle = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
/** The simulated drivers check ranges themselves and answer with the contract's errors. */
const pin = z.number().int().min(-1_000_000).max(1_000_000);
const byte = z.number().int().min(0).max(255);
const address = z.number().int().min(0).max(0x7f);
const length = z.number().int().min(0).max(MAX_WRITE_BYTES);
const level = z.union([z.literal(0), z.literal(1)]);
/** Bytes as lowercase hex, two digits each. */
const hexBytes = z.string().max(MAX_WRITE_BYTES * 2).regex(/^(?:[0-9a-f]{2})*$/, { message: 'must be bytes as lowercase hex, e.g. "d0"' });

const OPS = {
  hello: z.strictObject({
    op: z.literal('hello'),
    protocol: z.number().int(),
    device: z.string().max(256),
    /** Random per client instance: a reconnect with the same session replaces its old, half-dead connection. */
    session: z.string().min(1).max(64),
    /** What the client is, for the simulator's logs (e.g. `sensor`). */
    client: z.string().max(64).optional(),
  }),
  gpio_open: z.discriminatedUnion('direction', [
    z.strictObject({ op: z.literal('gpio_open'), handle, pin, direction: z.literal('in'), pull: z.enum(['up', 'down', 'none']) }),
    z.strictObject({ op: z.literal('gpio_open'), handle, pin, direction: z.literal('out'), initial: level }),
  ]),
  gpio_read: z.strictObject({ op: z.literal('gpio_read'), handle }),
  gpio_write: z.strictObject({ op: z.literal('gpio_write'), handle, level }),
  gpio_watch: z.strictObject({
    op: z.literal('gpio_watch'),
    handle,
    watch: handle,
    edge: z.enum(['rising', 'falling', 'both']),
    /** As the simulated driver takes it: 0 or less reports every raw transition; at most what a timer can wait. */
    debounceMs: z.number().max(MAX_DEBOUNCE_MS),
  }),
  gpio_unwatch: z.strictObject({ op: z.literal('gpio_unwatch'), watch: handle }),
  gpio_close: z.strictObject({ op: z.literal('gpio_close'), handle }),
  i2c_open: z.strictObject({ op: z.literal('i2c_open'), handle, bus: z.number().int().min(0).max(22) }),
  i2c_read_byte: z.strictObject({ op: z.literal('i2c_read_byte'), handle, address, register: byte }),
  i2c_write_byte: z.strictObject({ op: z.literal('i2c_write_byte'), handle, address, register: byte, value: byte }),
  i2c_read_block: z.strictObject({ op: z.literal('i2c_read_block'), handle, address, register: byte, length }),
  i2c_write_block: z.strictObject({ op: z.literal('i2c_write_block'), handle, address, register: byte, data: hexBytes }),
  i2c_write: z.strictObject({ op: z.literal('i2c_write'), handle, address, data: hexBytes }),
  i2c_read: z.strictObject({ op: z.literal('i2c_read'), handle, address, length }),
  i2c_close: z.strictObject({ op: z.literal('i2c_close'), handle }),
} as const;

export type RemoteOp = keyof typeof OPS;
export const REMOTE_OPS = Object.keys(OPS) as RemoteOp[];
export type RemoteRequest = { [K in RemoteOp]: z.infer<(typeof OPS)[K]> }[RemoteOp];
export type HelloRequest = z.infer<typeof OPS.hello>;

/** The contract error a failure is rethrown as on the client; see wire-errors.ts. */
export const WIRE_ERROR_TYPES = ['GpioError', 'I2cNackError', 'I2cTimeoutError', 'I2cClosedError', 'I2cError', 'RangeError', 'ProtocolError', 'Error'] as const;
export type WireErrorType = (typeof WIRE_ERROR_TYPES)[number];

export const wireError = z.object({
  type: z.enum(WIRE_ERROR_TYPES),
  /** The failure's own words, without the contract error's "GPIO n: " or "I2C bus n, address 0x..: " prefix. */
  message: z.string().max(2000),
  /** The stable code of an I2cError (i2c_nack, ...). */
  code: z.string().max(64).optional(),
});
export type WireError = z.infer<typeof wireError>;

/** Everything the server sends: a response to a request, or a pushed event. */
export const serverMessage = z.union([
  z.object({ id: id.nullable(), ok: z.literal(true), result: z.unknown().optional() }),
  z.object({ id: id.nullable(), ok: z.literal(false), error: wireError }),
  z.object({ event: z.literal('edge'), watch: handle, level, atMs: z.number() }),
]);
export type ServerMessage = z.infer<typeof serverMessage>;
export type ResponseMessage = Exclude<ServerMessage, { event: 'edge' }>;

/** What a successful hello answers. */
export const helloResult = z.object({ protocol: z.number().int(), device: z.string(), created: z.boolean() });

/**
 * Parses one request line. Returns the request and its id, or the id (if one could be read) and
 * a message that says what is wrong.
 */
export function parseRemoteRequest(line: string): { id: number; request: RemoteRequest } | { id: number | null; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, error: `message is not JSON: ${truncate(line)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { id: null, error: 'message must be a JSON object like {"id":1,"op":"gpio_read","handle":1}' };
  }
  const { id: rawId, ...rest } = value as Record<string, unknown>;
  const parsedId = id.safeParse(rawId);
  if (!parsedId.success) return { id: null, error: 'message needs a positive integer "id"' };
  const op = rest.op;
  if (typeof op !== 'string' || !Object.hasOwn(OPS, op)) {
    return { id: parsedId.data, error: `unknown op ${JSON.stringify(op)}; expected one of ${REMOTE_OPS.join(', ')}` };
  }
  const parsed = OPS[op as RemoteOp].safeParse(rest);
  if (!parsed.success) return { id: parsedId.data, error: `invalid ${op}: ${describeIssues(parsed.error.issues)}` };
  return { id: parsedId.data, request: parsed.data as RemoteRequest };
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${issue.path.length === 0 ? 'message' : issue.path.join('.')}: ${issue.message}`).join('; ');
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
