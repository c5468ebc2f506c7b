import { pino } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A structured logger: one JSON object per line with `level` (a name, not pino's number), `time`
 * (ISO 8601), `service` and `msg`. Child loggers add fields such as `component`, and lines about
 * an event carry `event`. An error always goes in `err`, as the caught value itself (never a
 * hand-made `{ message }` or a string), so every line has the same shape: `err.type`,
 * `err.message`, `err.stack` and any `code`, written by pino's error serializer.
 */
export type Logger = pino.Logger;

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where lines go; defaults to stdout. Writes are synchronous so a crash loses no line. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that drops everything, for library code used without a service around it. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
