import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log/logger.ts';

function capture(): { lines: Record<string, unknown>[]; destination: Writable } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON lines with a level name, ISO time, service and message', () => {
    const { lines, destination } = capture();
    createLogger({ service: 'test', destination }).info({ event: 'started' }, 'hello');
    expect(lines).toEqual([expect.objectContaining({ level: 'info', service: 'test', msg: 'hello', event: 'started', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) })]);
  });

  it('writes an error in err with its type, message, code and stack', () => {
    const { lines, destination } = capture();
    const error = Object.assign(new TypeError('connect refused'), { code: 'ECONNREFUSED' });
    createLogger({ service: 'test', destination }).warn({ event: 'redis_error', err: error }, 'Redis connection problem');
    expect(lines[0]?.err).toEqual(expect.objectContaining({ type: 'TypeError', message: 'connect refused', code: 'ECONNREFUSED', stack: expect.stringContaining('TypeError') }));
  });
});
