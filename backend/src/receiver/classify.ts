import type { RejectionReason } from '@iot/common/protocol';
import type { z } from 'zod';

/** Why a payload was not accepted: a reason code for counting and a sentence for a person. */
export interface Rejection {
  reason: RejectionReason;
  detail: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

/** Parses a JSON payload within a size limit. */
export function parseJson(payload: Buffer, maxBytes: number): Parsed<unknown> {
  if (payload.length > maxBytes) {
    return { ok: false, rejection: { reason: 'oversize', detail: `payload is ${payload.length} bytes; the limit is ${maxBytes}` } };
  }
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) };
  } catch (error) {
    return { ok: false, rejection: { reason: 'not_json', detail: `not valid JSON: ${(error as Error).message}` } };
  }
}

/**
 * Validates against a protocol schema and names the first problems. A field of the wrong type is
 * `wrong_type`; anything missing or structurally off is `wrong_shape`; a `v` we do not speak is
 * `unsupported_version`.
 */
export function validate<T>(schema: z.ZodType<T>, value: unknown): Parsed<T> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'v' in value && value.v !== 1) {
    return { ok: false, rejection: { reason: 'unsupported_version', detail: `protocol version ${JSON.stringify(value.v)} is not supported; this receiver speaks v1` } };
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues;
  const wrongType = issues.some((i) => i.code === 'invalid_type' && !/received undefined/.test(i.message)) && issues.every((i) => !isMissing(i));
  const detail = issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '(payload)' : i.path.join('.')}: ${i.message}`)
    .join('; ');
  return { ok: false, rejection: { reason: wrongType ? 'wrong_type' : 'wrong_shape', detail } };
}

function isMissing(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'invalid_type' && /received undefined/.test(issue.message);
}
