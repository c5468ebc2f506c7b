import type { z } from 'zod';
import { checkJsonStructure } from './json-text.ts';
import { PROTOCOL_VERSION } from './messages.ts';
import { type Decoded, decoded, rejected } from './rejection.ts';
import { decodeUtf8 } from './utf8.ts';

/**
 * Decoding a JSON payload against a protocol schema (messages.ts), the one way both sides read
 * what the other published: size first (a payload is never parsed beyond the limit), then UTF-8,
 * then the structure (json-text.ts: depth, duplicate keys), then JSON, then the version, then the
 * schema.
 */
export function decodeJsonPayload<T>(schema: z.ZodType<T>, payload: Buffer, maxBytes: number): Decoded<T> {
  const json = decodeJson(payload, maxBytes);
  return json.ok ? decodePayload(schema, json.value) : json;
}

/** Parses JSON within a size limit. */
export function decodeJson(payload: Buffer, maxBytes: number): Decoded<unknown> {
  if (payload.length > maxBytes) return rejected('oversize', `payload is ${payload.length} bytes; the limit is ${maxBytes}`);
  const text = decodeUtf8(payload);
  if (typeof text !== 'string') return rejected('not_utf8', `payload of ${payload.length} bytes is not valid UTF-8 (the first invalid sequence starts at byte ${text.invalidAt})`);
  const structure = checkJsonStructure(text);
  if (structure !== undefined) return structure;
  try {
    return decoded(JSON.parse(text));
  } catch (error) {
    return rejected('not_json', `not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Validates a parsed payload: a `v` other than ours is `unsupported_version` (said before any
 * other problem, since a newer sender's payload may differ everywhere), then the schema.
 */
export function decodePayload<T>(schema: z.ZodType<T>, value: unknown): Decoded<T> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'v' in value && value.v !== PROTOCOL_VERSION) {
    return rejected('unsupported_version', `protocol version ${JSON.stringify(value.v)} is not supported; this side speaks v${PROTOCOL_VERSION}`);
  }
  return decodeWithSchema(schema, value);
}

/**
 * Validates against a schema and names the first problems. Anything missing or structurally off
 * is `wrong_shape`; a field of the wrong type is `wrong_type`; a number beyond its maximum (a
 * time past what a date can hold, an integer past 2^53) is `out_of_range`.
 */
export function decodeWithSchema<T>(schema: z.ZodType<T>, value: unknown): Decoded<T> {
  const result = schema.safeParse(value);
  if (result.success) return decoded(result.data);
  const issues = result.error.issues;
  const reason = issues.some(isMissing)
    ? 'wrong_shape'
    : issues.every(isNumberTooBig)
      ? 'out_of_range'
      : issues.some((i) => i.code === 'invalid_type')
        ? 'wrong_type'
        : 'wrong_shape';
  const detail = issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '(payload)' : i.path.map(String).join('.')}: ${i.message}`)
    .join('; ');
  return rejected(reason, detail);
}

function isMissing(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'invalid_type' && /received undefined/.test(issue.message);
}

function isNumberTooBig(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'too_big' && (issue.origin === 'number' || issue.origin === 'int');
}
