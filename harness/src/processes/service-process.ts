import { fileURLToPath } from 'node:url';
import { ManagedProcess } from './managed-process.ts';

/** One parsed JSON log line of a service. */
export type LogRecord = Record<string, unknown> & { level?: string; msg?: string };

/** Entry points of the device services, by name. */
const ENTRYPOINTS = {
  sensor: '../../../device/src/sensor/main.ts',
  startstopbutton: '../../../device/src/button/main.ts',
  'device-all-in-one': '../../../device/src/all-in-one/main.ts',
  mqtthandler: '../../../device/src/uplink/main.ts',
  mqttserver: '../../../backend/src/broker/main.ts',
  receiver: '../../../backend/src/receiver/main.ts',
  webadmin: '../../../backend/src/webadmin/main.ts',
} as const;
export type ServiceName = keyof typeof ENTRYPOINTS;

export function entrypointPath(name: ServiceName): string {
  return fileURLToPath(new URL(ENTRYPOINTS[name], import.meta.url));
}

/**
 * A service running as its own OS process under the same Node.js as the caller, configured only
 * by env vars, with its JSON log lines parsed as they arrive.
 */
export class ServiceProcess extends ManagedProcess {
  private readonly parsed: LogRecord[] = [];
  private parsedLines = 0;

  /** Every stdout line that parsed as a JSON object, in order. */
  logs(): LogRecord[] {
    // Parse incrementally: long runs produce hundreds of thousands of lines.
    for (; this.parsedLines < this.stdoutLines.length; this.parsedLines++) {
      const record = parseLogLine(this.stdoutLines[this.parsedLines]!);
      if (record !== undefined) this.parsed.push(record);
    }
    return this.parsed;
  }

  /** Resolves with the first log record matching `predicate` (already seen ones included). */
  waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs: number, what = 'a matching log record'): Promise<LogRecord> {
    return this.waitFor(firstMatch(() => this.logs(), predicate), timeoutMs, what);
  }
}

export function startServiceProcess(name: ServiceName, env: NodeJS.ProcessEnv, options: { logFile?: string } = {}): ServiceProcess {
  return new ServiceProcess({
    name,
    command: process.execPath,
    args: [entrypointPath(name)],
    // Only what the service is given, plus PATH/HOME so Node and child tools work.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  });
}

/**
 * A probe for `waitFor`: the first record from index `from` on that matches `predicate`. It
 * remembers how far it looked, so each call checks only the records that arrived since.
 */
export function firstMatch(records: () => readonly LogRecord[], predicate: (record: LogRecord) => boolean, from = 0): () => LogRecord | undefined {
  let checked = from;
  return () => {
    const all = records();
    for (; checked < all.length; checked++) {
      if (predicate(all[checked]!)) return all[checked];
    }
    return undefined;
  };
}

export function parseLogLine(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}
