/**
 * Reasons the receiver records for a message or entry it did not store. `out_of_range`: a number
 * the system cannot hold exactly (a time beyond what a date can represent, an integer beyond
 * 2^53 or beyond its database column); `limit_exceeded`: a configured cardinality limit
 * (fields per reading, metrics per device, new boots per hour); `store_refused`: the database
 * (or the receiver's own code) failed on this message while it served others; `rate_limited`: a
 * summary row for rejections of one device not recorded one by one.
 */
export const REJECTION_REASONS = [
  'not_json',
  'not_utf8',
  'wrong_shape',
  'wrong_type',
  'out_of_range',
  'oversize',
  'device_mismatch',
  'unsupported_version',
  'identity_conflict',
  'unknown_topic',
  'limit_exceeded',
  'store_refused',
  'rate_limited',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** Why something was not accepted: a reason code for counting and a sentence for a person. */
export interface Rejection {
  reason: RejectionReason;
  detail: string;
}

/**
 * What every decoder in this folder returns. Decoders never throw on bad input: whatever a device
 * or a person wrote is data, and the caller decides whether to record, log or refuse it.
 */
export type Decoded<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

export function decoded<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function rejected(reason: RejectionReason, detail: string): { ok: false; rejection: Rejection } {
  return { ok: false, rejection: { reason, detail } };
}
