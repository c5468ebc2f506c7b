import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@iot/common/log';
import type { LogRecord } from '../processes/service-process.ts';

/** A real logger whose JSON lines are kept in memory, for asserting on what a service logged. */
export function captureLogs(service = 'test'): { logger: Logger; records: LogRecord[]; find(event: string): LogRecord[] } {
  const records: LogRecord[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  const logger = createLogger({ service, level: 'debug', destination });
  return { logger, records, find: (event) => records.filter((r) => r.event === event) };
}

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
