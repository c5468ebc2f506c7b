import { z } from '@iot/common/config';
import { HttpError } from './http-error.ts';

/** A query-string integer within [min, max] ("12" → 12); anything else is a 400 naming the field. */
export const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, { message: 'must be a non-negative integer' })
    .transform(Number)
    .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));

/** measured_at bounds, epoch ms, both inclusive. */
export const rangeQuery = {
  from: integer(0, Number.MAX_SAFE_INTEGER).optional(),
  to: integer(0, Number.MAX_SAFE_INTEGER).optional(),
};

/** Parses `input` with `schema` or throws a 400 naming each bad field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const message = result.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new HttpError(400, 'invalid_request', message);
}
