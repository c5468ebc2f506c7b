/**
 * The device's Redis stream entry format. Fields of the original system (sensor names with string
 * values) stay as they were, so its dashboards keep working; identity and markers use fields
 * starting with `_`, which no sensor name does.
 *
 * Identity (DESIGN.md §2): a stream id or a Redis-kept counter can be issued again after a power
 * cut rolls Redis back, or after a boot with a clock behind. A reading is therefore identified by
 * (device, boot id, sequence within that boot): the boot id is drawn at random on every sensor
 * start and the sequence counts from 1 within it.
 */
export const STREAM_KEY = 'measurement:values';

export const FIELD = {
  bootId: '_boot_id',
  seq: '_seq',
  /** When the sample was taken, device clock, ms since the epoch. */
  measuredAt: '_measured_at',
  /** Present only on marker entries: see {@link StreamEvent}. */
  event: '_event',
} as const;

/**
 * Marker entries. `shutdown` ends a boot cleanly and carries the boot's last sequence number in
 * `_seq`; a boot that never gets one ended by a crash or a power cut.
 */
export type StreamEvent = 'shutdown';

/** Sensor quantities and their field names (unit in the name, as in the original). */
export const QUANTITY = {
  temperature: 'temperature_celsius',
  humidity: 'humidity_percent',
  pressure: 'pressure_hpa',
} as const;
export type Quantity = (typeof QUANTITY)[keyof typeof QUANTITY];

export interface ReadingIdentity {
  bootId: string;
  seq: number;
}

/** A boot id: 16 lowercase hex characters (64 random bits). */
export const BOOT_ID_PATTERN = /^[0-9a-f]{16}$/;

/** Field/value pairs for XADD, values as strings as the original wrote them. */
export function readingFields(identity: ReadingIdentity, measuredAt: number, values: Readonly<Record<string, number>>): string[] {
  const fields: string[] = [];
  for (const [name, value] of Object.entries(values)) fields.push(name, formatValue(value));
  fields.push(FIELD.bootId, identity.bootId, FIELD.seq, String(identity.seq), FIELD.measuredAt, String(measuredAt));
  return fields;
}

export function shutdownFields(bootId: string, lastSeq: number, at: number): string[] {
  return [FIELD.event, 'shutdown' satisfies StreamEvent, FIELD.bootId, bootId, FIELD.seq, String(lastSeq), FIELD.measuredAt, String(at)];
}

/** Values keep the chip's resolution without float noise (0.1 + 0.2 style tails). */
export function formatValue(value: number): string {
  return String(roundValue(value));
}

/** The value as stored: 10 significant digits, finer than any supported chip resolves. */
export function roundValue(value: number): number {
  return Number(value.toPrecision(10));
}

/** A sample with every value rounded as it will be stored, so logs and stream agree exactly. */
export function roundValues(values: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, roundValue(value)]));
}

/** Orders Redis stream ids (`<ms>-<seq>`) numerically, ms part first, never as strings. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}
