/** Reasons the receiver records for a message or entry it did not store. */
export const REJECTION_REASONS = [
  'not_json',
  'wrong_shape',
  'wrong_type',
  'oversize',
  'device_mismatch',
  'unsupported_version',
  'identity_conflict',
  'unknown_topic',
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
