import { z } from 'zod';
import { ConfigError } from './config-error.ts';

export { ConfigError, z };

type Env = Record<string, string | undefined>;

/**
 * Validates the environment against a schema whose keys are env var names, once, at start-up.
 * Empty strings count as unset (balena and compose often set `VAR=`). All problems are reported
 * together, each naming the variable, what is wrong and the value given.
 */
export function parseEnv<S extends z.ZodObject>(service: string, schema: S, env: Env): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(service, formatIssues(result.error, input));
}

export function formatIssues(error: z.ZodError, input: Record<string, unknown>): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.map(String).join('.');
    if (key === '') return issue.message;
    const given = input[String(issue.path[0])];
    return given === undefined ? `${key}: ${issue.message}` : `${key}: ${issue.message} (got ${JSON.stringify(given)})`;
  });
}

/** Env helpers that produce messages a person can act on. */
export const env = {
  integer(min: number, max: number) {
    return z
      .string()
      .regex(/^-?\d+$/, { message: `must be a whole number from ${min} to ${max}` })
      .transform(Number)
      .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));
  },
  number(min: number, max: number) {
    return z
      .string()
      .regex(/^-?(\d+\.?\d*|\.\d+)$/, { message: `must be a number from ${min} to ${max}` })
      .transform(Number)
      .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));
  },
  oneOf<const T extends readonly [string, ...string[]]>(values: T, options: { caseInsensitive?: boolean } = {}) {
    const normalise = (s: string) => (options.caseInsensitive ? s.toLowerCase() : s);
    const lookup = new Map(values.map((v) => [normalise(v), v] as const));
    return z.string().transform((s, ctx) => {
      const found = lookup.get(normalise(s));
      if (found === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}` });
        return z.NEVER;
      }
      return found as T[number];
    });
  },
  boolean() {
    return z.string().transform((s, ctx) => {
      const v = s.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false (also 1/0, yes/no, on/off)' });
      return z.NEVER;
    });
  },
};

export { TOPIC_ENV_NAMES, type TopicEnvConfig, topicEnv, topicSchemeFrom } from './topic-env.ts';
