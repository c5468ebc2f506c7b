import { interpolate } from './curves.ts';
import type { Conditions, Environment } from './environment.ts';

/** One row of a recording: conditions `timeS` seconds after its start. */
export interface RecordingRow extends Conditions {
  timeS: number;
}

/** A parsed recording: at least one row, times strictly increasing from 0 or later. */
export interface CsvRecording {
  readonly rows: readonly RecordingRow[];
}

/** A CSV recording that cannot be used; `line` is 1-based, counting the header. */
export class CsvRecordingError extends Error {
  readonly line: number;
  constructor(line: number, problem: string) {
    super(`CSV recording, line ${line}: ${problem}`);
    this.name = 'CsvRecordingError';
    this.line = line;
  }
}

/** Column name in the file → field of {@link RecordingRow}; names match the stream's field names. */
const COLUMNS = {
  time_s: 'timeS',
  temperature_celsius: 'temperatureCelsius',
  humidity_percent: 'humidityPercent',
  pressure_hpa: 'pressureHpa',
} as const satisfies Record<string, keyof RecordingRow>;
type Column = keyof typeof COLUMNS;

/**
 * Parses a recording: a header naming the columns `time_s`, `temperature_celsius`,
 * `humidity_percent` and `pressure_hpa` (in any order), then one row per line. Blank lines are
 * skipped; CRLF line ends are accepted.
 *
 * @throws CsvRecordingError naming the line and the problem.
 */
export function parseCsvRecording(text: string): CsvRecording {
  const lines = text.split(/\r?\n/);
  const headerIndex = lines.findIndex((line) => line.trim() !== '');
  if (headerIndex === -1) throw new CsvRecordingError(1, `empty; expected the header ${Object.keys(COLUMNS).join(',')}`);
  const header = lines[headerIndex]!.split(',').map((name) => name.trim());
  const order = parseHeader(header, headerIndex + 1);
  const rows: RecordingRow[] = [];
  for (let index = headerIndex + 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.trim() === '') continue;
    const lineNumber = index + 1;
    const cells = line.split(',');
    if (cells.length !== order.length) throw new CsvRecordingError(lineNumber, `has ${cells.length} values, the header names ${order.length}`);
    const row: Partial<RecordingRow> = {};
    cells.forEach((cell, i) => {
      const column = order[i]!;
      const value = cell.trim() === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) throw new CsvRecordingError(lineNumber, `${column} "${cell.trim()}" is not a number`);
      row[COLUMNS[column]] = value;
    });
    const complete = row as RecordingRow;
    const previous = rows.at(-1);
    if (complete.timeS < 0) throw new CsvRecordingError(lineNumber, `time_s ${complete.timeS} is negative`);
    if (previous !== undefined && complete.timeS <= previous.timeS) {
      throw new CsvRecordingError(lineNumber, `time_s ${complete.timeS} does not come after ${previous.timeS}`);
    }
    rows.push(complete);
  }
  if (rows.length === 0) throw new CsvRecordingError(headerIndex + 1, 'the header is followed by no rows');
  return { rows };
}

function parseHeader(names: string[], lineNumber: number): Column[] {
  const expected = Object.keys(COLUMNS) as Column[];
  for (const name of names) {
    if (!(expected as string[]).includes(name)) throw new CsvRecordingError(lineNumber, `unknown column "${name}"; expected ${expected.join(',')}`);
  }
  for (const name of expected) {
    const count = names.filter((n) => n === name).length;
    if (count === 0) throw new CsvRecordingError(lineNumber, `missing column "${name}" (a header line is required)`);
    if (count > 1) throw new CsvRecordingError(lineNumber, `column "${name}" appears ${count} times`);
  }
  return names as Column[];
}

export interface CsvEnvironmentOptions {
  /** When time_s = 0 is, in ms since the epoch. Before it, the first row holds. */
  startMs: number;
  /**
   * After the last row, start again from the first instead of holding the last. One loop lasts as
   * long as the last row's time_s, so the last row's moment is also the next loop's first.
   */
  loop?: boolean;
}

/** Replays a recording, interpolating linearly between rows. */
export function csvEnvironment(recording: CsvRecording, options: CsvEnvironmentOptions): Environment {
  const rows = recording.rows;
  const first = rows[0];
  const last = rows.at(-1);
  if (first === undefined || last === undefined) throw new RangeError('csvEnvironment: the recording has no rows');
  const loopMs = last.timeS * 1000;
  return {
    at(ms) {
      let elapsedMs = ms - options.startMs;
      if (options.loop === true && loopMs > 0 && elapsedMs >= loopMs) elapsedMs %= loopMs;
      const timeS = elapsedMs / 1000;
      if (timeS <= first.timeS) return conditionsOf(first);
      if (timeS >= last.timeS) return conditionsOf(last);
      // The last row with timeS ≤ t: binary search, as recordings can be long.
      let lo = 0;
      let hi = rows.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (rows[mid]!.timeS <= timeS) lo = mid;
        else hi = mid;
      }
      const a = rows[lo]!;
      const b = rows[hi]!;
      return interpolate(a, b, (timeS - a.timeS) / (b.timeS - a.timeS));
    },
  };
}

function conditionsOf(row: RecordingRow): Conditions {
  return { temperatureCelsius: row.temperatureCelsius, humidityPercent: row.humidityPercent, pressureHpa: row.pressureHpa };
}
