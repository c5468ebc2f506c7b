import { readingKey, type SensorValue } from '@iot/common/protocol';

/**
 * The no-loss checker, in the manner of Jepsen's set-full checker: the history is what each device
 * *recorded* (the sensor's `reading_recorded` log lines: Redis acknowledged the XADD), the final
 * read is what the database holds. Every recorded reading must be stored exactly once with the
 * same values.
 */

/** One reading a device recorded, from its sensor log. */
export interface RecordedReading {
  deviceId: string;
  bootId: string;
  seq: number;
  measuredAt: number;
  values: Readonly<Record<string, number>>;
}

/** One reading as the database holds it. */
export interface StoredReading {
  deviceId: string;
  readingKey: string;
  measuredAt: number;
  receivedAt: number;
  /** Text only for original-format readings (docs/protocol.md §9); a device of ours records numbers. */
  values: Readonly<Record<string, SensorValue>>;
}

export interface DeliveryReport {
  recorded: number;
  stored: number;
  /** Recorded but not in the database. */
  lost: number;
  /** Stored more than once (the unique key should make this impossible). */
  duplicated: number;
  /** Stored with values or time different from what was recorded. */
  corrupted: number;
  /**
   * Stored but never logged as recorded: a process killed between Redis applying an XADD and the
   * reply arriving. Not a loss; counted so nothing goes unexplained.
   */
  unexpected: number;
  /** Up to 20 keys of each kind of problem, `device/boot:seq`, for the report. */
  examples: { lost: string[]; duplicated: string[]; corrupted: string[] };
  /** Measured-to-stored latency of the recorded readings that arrived, in ms. */
  latencyMs: { p50: number; p95: number; p99: number; max: number } | undefined;
}

const EXAMPLES = 20;

export function checkDelivery(history: readonly RecordedReading[], stored: readonly StoredReading[]): DeliveryReport {
  const byKey = new Map<string, StoredReading[]>();
  for (const row of stored) {
    const key = `${row.deviceId}/${row.readingKey}`;
    const rows = byKey.get(key);
    if (rows === undefined) byKey.set(key, [row]);
    else rows.push(row);
  }
  const report: DeliveryReport = {
    recorded: history.length,
    stored: stored.length,
    lost: 0,
    duplicated: 0,
    corrupted: 0,
    unexpected: 0,
    examples: { lost: [], duplicated: [], corrupted: [] },
    latencyMs: undefined,
  };
  const latencies: number[] = [];
  const seen = new Set<string>();
  for (const reading of history) {
    const key = `${reading.deviceId}/${readingKey({ bootId: reading.bootId, seq: reading.seq, streamId: '' })}`;
    if (seen.has(key)) continue; // the same reading logged twice is one reading
    seen.add(key);
    const rows = byKey.get(key);
    if (rows === undefined) {
      report.lost++;
      if (report.examples.lost.length < EXAMPLES) report.examples.lost.push(key);
      continue;
    }
    if (rows.length > 1) {
      report.duplicated++;
      if (report.examples.duplicated.length < EXAMPLES) report.examples.duplicated.push(key);
    }
    const row = rows[0]!;
    if (!sameValues(row.values, reading.values) || row.measuredAt !== reading.measuredAt) {
      report.corrupted++;
      if (report.examples.corrupted.length < EXAMPLES) report.examples.corrupted.push(key);
    }
    latencies.push(row.receivedAt - reading.measuredAt);
  }
  report.recorded = seen.size;
  for (const key of byKey.keys()) if (!seen.has(key)) report.unexpected++;
  report.latencyMs = latencies.length === 0 ? undefined : percentiles(latencies);
  return report;
}

function sameValues(a: Readonly<Record<string, SensorValue>>, b: Readonly<Record<string, SensorValue>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function percentiles(values: number[]): { p50: number; p95: number; p99: number; max: number } {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1)! };
}

/** Extracts a device's history from its sensor's JSON log records. */
export function historyFromLogs(deviceId: string, records: readonly Record<string, unknown>[]): RecordedReading[] {
  return records
    .filter((r) => r.event === 'reading_recorded')
    .map((r) => ({
      deviceId,
      bootId: String(r.boot_id),
      seq: Number(r.seq),
      measuredAt: Number(r.measured_at),
      values: r.values as Record<string, number>,
    }));
}
