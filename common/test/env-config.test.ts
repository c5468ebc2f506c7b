import { ConfigError, env, parseEnv, z } from '../src/config/env-config.ts';
import { describe, expect, it } from 'vitest';

const schema = z.object({
  PORT: env.integer(1, 65535).prefault('1883'),
  RATE: env.number(0, 10).prefault('2'),
  MODE: env.oneOf(['UP', 'DOWN'], { caseInsensitive: true }).prefault('DOWN'),
  TLS: env.boolean().prefault('false'),
});

describe('parseEnv', () => {
  it('applies defaults and converts types', () => {
    expect(parseEnv('svc', schema, {})).toEqual({ PORT: 1883, RATE: 2, MODE: 'DOWN', TLS: false });
    expect(parseEnv('svc', schema, { PORT: '8883', RATE: '0.5', MODE: 'up', TLS: 'yes' })).toEqual({ PORT: 8883, RATE: 0.5, MODE: 'UP', TLS: true });
  });

  it('treats empty and blank values as unset, as compose files and balena often leave them', () => {
    expect(parseEnv('svc', schema, { PORT: '', RATE: '  ' })).toMatchObject({ PORT: 1883, RATE: 2 });
  });

  it('reports every problem together, naming the variable, the rule and the value given', () => {
    let error: unknown;
    try {
      parseEnv('svc', schema, { PORT: '70000', RATE: 'lots', MODE: 'sideways', TLS: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'PORT: must be at most 65535 (got "70000")',
      'RATE: must be a number from 0 to 10 (got "lots")',
      'MODE: must be one of UP, DOWN (got "sideways")',
      'TLS: must be true or false (also 1/0, yes/no, on/off) (got "maybe")',
    ]);
    expect((error as ConfigError).message).toBe(
      'svc: invalid configuration:\n  - PORT: must be at most 65535 (got "70000")\n  - RATE: must be a number from 0 to 10 (got "lots")\n' +
        '  - MODE: must be one of UP, DOWN (got "sideways")\n  - TLS: must be true or false (also 1/0, yes/no, on/off) (got "maybe")',
    );
  });

  it('rejects fractions where a whole number is needed', () => {
    expect(() => parseEnv('svc', schema, { PORT: '1883.5' })).toThrow('PORT: must be a whole number from 1 to 65535');
  });
});
