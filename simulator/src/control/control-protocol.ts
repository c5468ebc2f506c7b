import { z } from '@iot/common/config';

/**
 * The simulation control protocol: newline-delimited JSON over a unix socket. Each request
 * `{ "id": n, "op": ..., ... }` gets exactly one response `{ "id": n, "ok": true, "result"?: ... }`
 * or `{ "id": n, "ok": false, "error": "..." }`. Requests on one connection may be answered out of
 * order (a button click takes a while; a state query does not), so responses carry the id.
 */

/** BCM pins of a 40-pin Raspberry Pi, as the simulated GPIO accepts them. */
const bcmPin = z.number().int().min(0).max(27);
const i2cBus = z.number().int().min(0).max(22);
/** 7-bit I2C addresses outside the reserved ranges (I2C-bus specification UM10204 §3.1.12, Table 4). */
const i2cAddress = z.number().int().min(0x03).max(0x77);
/** Chatter and hold times; capped below the client's default timeout so a request cannot outlive it. */
const durationMs = z.number().min(0).max(5000);

export const buttonRequest = z.strictObject({
  op: z.literal('button'),
  pin: bcmPin,
  action: z.enum(['press', 'release', 'click', 'bounce']),
  /** bounce: how long the contacts chatter; click: the chatter on press and on release. */
  ms: durationMs.optional(),
  /** bounce only: where the contacts end up; the opposite of the current state when omitted. */
  settle: z.enum(['pressed', 'released']).optional(),
  /** click only: how long the button is held between the two bounces. */
  holdMs: durationMs.optional(),
});

export const busFaultRequest = z.strictObject({
  op: z.literal('bus_fault'),
  bus: i2cBus,
  address: i2cAddress,
  /** `null` clears the fault. */
  fault: z.enum(['nack', 'stuck']).nullable(),
});

export const chipFaultRequest = z.strictObject({
  op: z.literal('chip_fault'),
  bus: i2cBus,
  address: i2cAddress,
  /** `null` clears the fault. */
  fault: z.enum(['crc', 'implausible']).nullable(),
});

export const conditionsRequest = z.strictObject({
  op: z.literal('conditions'),
  // Operating ranges of the simulated chips: SHT3x datasheet Table 1/2 (-40..125 °C, 0..100 %RH),
  // BME280 datasheet Table 1 (300..1100 hPa).
  temperatureCelsius: z.number().min(-40).max(125).optional(),
  humidityPercent: z.number().min(0).max(100).optional(),
  pressureHpa: z.number().min(300).max(1100).optional(),
});

export const stateRequest = z.strictObject({ op: z.literal('state') });

const OPS = {
  button: buttonRequest,
  bus_fault: busFaultRequest,
  chip_fault: chipFaultRequest,
  conditions: conditionsRequest,
  state: stateRequest,
} as const;
export type ControlOp = keyof typeof OPS;
export const CONTROL_OPS = Object.keys(OPS) as ControlOp[];

export type ButtonRequest = z.infer<typeof buttonRequest>;
export type BusFaultRequest = z.infer<typeof busFaultRequest>;
export type ChipFaultRequest = z.infer<typeof chipFaultRequest>;
export type ConditionsRequest = z.infer<typeof conditionsRequest>;
export type ControlRequest = ButtonRequest | BusFaultRequest | ChipFaultRequest | ConditionsRequest | z.infer<typeof stateRequest>;

/** What `state` answers: enough to see why a scenario does not behave as expected. */
export interface SimulationState {
  /** Pins a service has open, by BCM number. */
  pins: Record<string, { direction: 'in' | 'out'; level: 0 | 1; pressed: boolean }>;
  /** Chip models on each bus, by hex address, with the data fault injected through this channel. */
  chips: { bus: number; address: string; model: string; fault: string | null }[];
  /** Bus faults injected through this channel, as `bus:0xaddress` → fault. */
  busFaults: Record<string, string>;
  /** What the simulated chips sense right now. */
  conditions: { temperatureCelsius: number; humidityPercent: number; pressureHpa: number };
}

export type ControlResponse = { id: number | null; ok: true; result?: unknown } | { id: number | null; ok: false; error: string };

/**
 * Parses one request line. Returns the request and its id, or the id (if one could be read) and
 * a message that says what to change.
 */
export function parseRequestLine(line: string): { id: number; request: ControlRequest } | { id: number | null; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, error: `request is not JSON: ${truncate(line)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { id: null, error: 'request must be a JSON object like {"id":1,"op":"state"}' };
  }
  const { id, ...rest } = value as Record<string, unknown>;
  if (typeof id !== 'number' || !Number.isInteger(id)) return { id: null, error: 'request needs an integer "id"' };
  const parsed = parseRequest(rest);
  return 'error' in parsed ? { id, error: parsed.error } : { id, request: parsed.request };
}

/**
 * Checks one request, already decoded from JSON and without its id, against the schema of its
 * `op`. Every transport (the unix socket's lines, the HTTP API's bodies) goes through this.
 */
export function parseRequest(value: Record<string, unknown>): { request: ControlRequest } | { error: string } {
  const op = value.op;
  if (typeof op !== 'string' || !Object.hasOwn(OPS, op)) {
    return { error: `unknown op ${JSON.stringify(op)}; expected one of ${CONTROL_OPS.join(', ')}` };
  }
  const parsed = OPS[op as ControlOp].safeParse(value);
  if (!parsed.success) return { error: `invalid ${op} request: ${describeIssues(parsed.error.issues)}` };
  return { request: parsed.data };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${issue.path.length === 0 ? 'request' : issue.path.join('.')}: ${issue.message}`).join('; ');
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

/** Formats an I2C address as the datasheets and SENSORS do (`0x44`). */
export function hexAddress(address: number): string {
  return `0x${address.toString(16).padStart(2, '0')}`;
}
