import { LeaseLostError, type LeaseStore } from './lease-store.ts';
import { jsonObject, num, type Row, type Sql, type SqlAccess } from './sql-access.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** Marks per refresh transaction: bounds its length so ingest never waits long on a lock. */
export const REFRESH_CHUNK = 500;

/** The lease (LeaseStore) whose holder refreshes the rollups, and whose row serialises refreshes. */
export const ROLLUP_LEASE = 'rollups';

/** A range a chart may show raw: more readings than this and it reads rollups instead. */
export const MAX_RAW_POINTS = 2000;
/** Ranges up to this span read minute rollups, longer ones hour rollups. */
export const MAX_MINUTE_SPAN_MS = 3 * 24 * HOUR_MS;

export type SeriesResolution = 'raw' | 'minute' | 'hour';

/** One point of a downsampled series: bucket start (ms), min, mean, max, readings in the bucket. */
export type SeriesPoint = [t: number, min: number, mean: number, max: number, count: number];

export interface Series {
  from: number;
  to: number;
  resolution: SeriesResolution;
  /** Width of one point in ms (0 for raw). */
  bucketMs: number;
  metrics: Record<string, SeriesPoint[]>;
}

/** What a refresh did: the devices whose rollups changed, with the newest bucket touched. */
export interface RefreshResult {
  buckets: number;
  devices: Map<string, number>;
}

/** A refresh on behalf of the holder of {@link ROLLUP_LEASE}: renewed until `until` in the refresh's own transaction. */
export interface RefreshFence {
  owner: string;
  until: number;
}

/** Per device, what the refreshes did so far (`rollup_progress`): the web admin watches it. */
export interface RollupProgress {
  /** Bumped by every refresh that changed the device's rollups. */
  generation: number;
  /** The newest minute bucket the latest such refresh touched. */
  latestBucket: number;
}

interface Mark {
  deviceId: string;
  bucketStart: number;
  generation: number;
}

interface Aggregate {
  count: number;
  min: number;
  max: number;
  sum: number;
}

export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/**
 * Downsampled readings: minute and hour rollups (count, min, max, sum per metric) kept beside
 * the raw readings, and the series queries the charts use.
 *
 * Writers only mark minute buckets dirty (ReadingStore does so in the batch's transaction);
 * {@link refresh} recomputes marked buckets from the raw readings. Recomputing rather than
 * incrementing keeps the rollups exact whatever arrives twice, late or out of order. One process
 * refreshes (RollupRefresher in the receiver, holding {@link ROLLUP_LEASE}); every refresh
 * transaction starts on the lease row, so even refreshes from elsewhere never interleave.
 */
export class RollupStore {
  private readonly db: SqlAccess;
  private readonly leases: LeaseStore;

  constructor(db: SqlAccess, leases: LeaseStore) {
    this.db = db;
    this.leases = leases;
  }

  /** Marks the minute buckets of `measuredAt` times dirty, inside the caller's transaction. */
  async markDirty(sql: Sql, deviceId: string, measuredAt: readonly number[]): Promise<void> {
    // Sorted, so two transactions lock the marks of one device in the same order (no deadlock).
    const buckets = [...new Set(measuredAt.map(minuteOf))].sort((a, b) => a - b);
    if (buckets.length === 0) return;
    const upsert = this.db.upsertRows(
      'rollup_dirty',
      ['device_id', 'bucket_start', 'generation'],
      buckets.map((bucket) => [deviceId, bucket, 1]),
      ['device_id', 'bucket_start'],
      ['generation = generation + 1'],
    );
    await sql.execute(upsert.sql, upsert.params);
  }

  /** Dirty minute buckets waiting for {@link refresh}. */
  pending(): Promise<number> {
    return this.db.read(async (sql) => num((await sql.rows('SELECT COUNT(*) AS n FROM rollup_dirty'))[0]?.n ?? 0));
  }

  /** Per device, the refreshes' progress; devices never refreshed are absent. */
  progress(): Promise<Map<string, RollupProgress>> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows('SELECT device_id, generation, latest_bucket FROM rollup_progress');
      return new Map(rows.map((r) => [String(r.device_id), { generation: num(r.generation), latestBucket: num(r.latest_bucket) }]));
    });
  }

  /**
   * Recomputes up to {@link REFRESH_CHUNK} dirty minute buckets from the raw readings, then the
   * hour buckets containing them from the minute buckets, in one transaction. A mark is removed
   * only if its generation is still the one read: a batch that re-marked the bucket meanwhile may
   * hold readings this recomputation did not see, so the bucket stays marked for the next round.
   *
   * The transaction starts on the {@link ROLLUP_LEASE} row: renewing it for `fence.owner`
   * (throwing LeaseLostError, with nothing changed, when someone else holds it now), or, unfenced
   * (tests, benchmarks), only locking it. So refresh transactions run one at a time: an hour is
   * rebuilt from minutes no other refresh is rewriting, and is exact (two interleaved refreshes
   * of minutes in one hour could each miss the other's minute).
   */
  refresh(fence?: RefreshFence): Promise<RefreshResult> {
    return this.db.transaction(async (sql) => {
      if (fence === undefined) await this.leases.lockIn(sql, ROLLUP_LEASE);
      else if (!(await this.leases.renewIn(sql, ROLLUP_LEASE, fence.owner, fence.until))) throw new LeaseLostError(ROLLUP_LEASE, fence.owner);
      const marks = (
        await sql.rows('SELECT device_id, bucket_start, generation FROM rollup_dirty ORDER BY device_id, bucket_start LIMIT ?', [REFRESH_CHUNK])
      ).map((r): Mark => ({ deviceId: String(r.device_id), bucketStart: num(r.bucket_start), generation: num(r.generation) }));
      const devices = new Map<string, number>();
      for (const run of consecutiveRuns(marks)) {
        await this.recomputeRun(sql, run);
        const first = run[0] as Mark;
        const last = run.at(-1) as Mark;
        devices.set(first.deviceId, Math.max(devices.get(first.deviceId) ?? 0, last.bucketStart));
      }
      for (let start = 0; start < marks.length; start += 100) {
        const chunk = marks.slice(start, start + 100);
        await sql.execute(
          `DELETE FROM rollup_dirty WHERE ${chunk.map(() => '(device_id = ? AND bucket_start = ? AND generation = ?)').join(' OR ')}`,
          chunk.flatMap((m) => [m.deviceId, m.bucketStart, m.generation]),
        );
      }
      await this.recordProgress(sql, devices);
      return { buckets: marks.length, devices };
    });
  }

  /**
   * A chart's data: each metric of one device between `from` and `to` (inclusive, ms) in at most
   * `points` points. Raw readings when the range holds at most {@link MAX_RAW_POINTS} (and at most
   * `points`), otherwise minute rollups for spans up to {@link MAX_MINUTE_SPAN_MS} and hour rollups
   * beyond, merged into `points` equal buckets. Rollup buckets are whole minutes or hours, so the
   * first and last point may include readings just outside the range.
   */
  series(deviceId: string, from: number, to: number, points: number): Promise<Series> {
    return this.db.read(async (sql) => {
      const rawLimit = Math.min(points, MAX_RAW_POINTS);
      // Whether the range is small enough for raw readings, counted on the covering index alone:
      // a range too large for them (the usual chart of a busy device) reads no wide rows.
      const inRange = 'SELECT id FROM readings WHERE device_id = ? AND measured_at >= ? AND measured_at <= ?';
      const counted = num((await sql.rows(`SELECT COUNT(*) AS n FROM (${inRange} LIMIT ?) ids`, [deviceId, from, to, rawLimit + 1]))[0]?.n ?? 0);
      if (counted <= rawLimit) {
        // Deferred join, as in the readings pages: ids by a range scan of the covering index first.
        const raw = await sql.rows(
          `SELECT r.measured_at, r.values_json FROM (${inRange} ORDER BY measured_at, id LIMIT ?) page JOIN readings r ON r.id = page.id ORDER BY r.measured_at, r.id`,
          [deviceId, from, to, rawLimit + 1],
        );
        // Readings committed between the two reads can push the range past the limit: then rollups.
        if (raw.length <= rawLimit) return { from, to, resolution: 'raw', bucketMs: 0, metrics: rawSeries(raw) };
      }

      const minute = to - from <= MAX_MINUTE_SPAN_MS;
      const resolutionMs = minute ? MINUTE_MS : HOUR_MS;
      const bucketMs = Math.max(resolutionMs, Math.ceil((to - from + 1) / points / resolutionMs) * resolutionMs);
      const origin = Math.floor(from / resolutionMs) * resolutionMs;
      // Merged into the chart's buckets by the database: a day of minutes is 1440 rows per
      // metric, the chart's 600 points far fewer. bucket_start >= origin, so integer division floors.
      // (SQLite binds JS numbers as REAL, so its quotient is cast back.)
      const slot = this.db.kind === 'mariadb' ? '(bucket_start - ?) DIV ?' : 'CAST((bucket_start - ?) / ? AS INTEGER)';
      const rows = await sql.rows(
        `SELECT metric, ${slot} AS slot, SUM(count) AS count, MIN(min_value) AS min_value, MAX(max_value) AS max_value, SUM(sum_value) AS sum_value
         FROM reading_rollups WHERE device_id = ? AND resolution = ? AND bucket_start >= ? AND bucket_start <= ?
         GROUP BY metric, slot ORDER BY metric, slot`,
        [origin, bucketMs, deviceId, resolutionMs / 1000, origin, to],
      );
      return { from, to, resolution: minute ? 'minute' : 'hour', bucketMs, metrics: mergedPoints(rows, origin, bucketMs) };
    });
  }

  /** Bumps the progress of the devices a refresh changed, in its transaction: the web admin sees it with the rollups. */
  private async recordProgress(sql: Sql, devices: ReadonlyMap<string, number>): Promise<void> {
    if (devices.size === 0) return;
    const upsert = this.db.upsertRows(
      'rollup_progress',
      ['device_id', 'generation', 'latest_bucket'],
      [...devices].sort(([a], [b]) => (a < b ? -1 : 1)).map(([deviceId, bucket]) => [deviceId, 1, bucket]),
      ['device_id'],
      ['generation = generation + 1', `latest_bucket = ${this.db.inserted('latest_bucket')}`],
    );
    await sql.execute(upsert.sql, upsert.params);
  }

  /** Rebuilds the minute buckets of one run of consecutive marks and the hours that contain them. */
  private async recomputeRun(sql: Sql, run: readonly Mark[]): Promise<void> {
    const deviceId = (run[0] as Mark).deviceId;
    const start = (run[0] as Mark).bucketStart;
    const end = (run.at(-1) as Mark).bucketStart + MINUTE_MS;
    const readings = await sql.rows('SELECT measured_at, values_json FROM readings WHERE device_id = ? AND measured_at >= ? AND measured_at < ?', [deviceId, start, end]);
    const buckets = new Map<string, Aggregate>();
    for (const reading of readings) {
      const bucket = minuteOf(num(reading.measured_at));
      for (const [metric, value] of Object.entries(JSON.parse(String(reading.values_json)) as Record<string, unknown>)) {
        if (typeof value !== 'number' || !Number.isFinite(value) || metric.length > 64) continue;
        const key = `${bucket}|${metric}`;
        const aggregate = buckets.get(key);
        if (aggregate === undefined) buckets.set(key, { count: 1, min: value, max: value, sum: value });
        else {
          aggregate.count += 1;
          aggregate.min = Math.min(aggregate.min, value);
          aggregate.max = Math.max(aggregate.max, value);
          aggregate.sum += value;
        }
      }
    }
    await sql.execute('DELETE FROM reading_rollups WHERE device_id = ? AND resolution = 60 AND bucket_start >= ? AND bucket_start < ?', [deviceId, start, end]);
    const rows = [...buckets].map(([key, a]) => {
      const at = key.indexOf('|');
      return [deviceId, 60, Number(key.slice(0, at)), key.slice(at + 1), a.count, a.min, a.max, a.sum];
    });
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      await sql.execute(
        `INSERT INTO reading_rollups (device_id, resolution, bucket_start, metric, count, min_value, max_value, sum_value) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flat(),
      );
    }
    const hourStart = Math.floor(start / HOUR_MS) * HOUR_MS;
    const hourEnd = Math.ceil(end / HOUR_MS) * HOUR_MS;
    await sql.execute('DELETE FROM reading_rollups WHERE device_id = ? AND resolution = 3600 AND bucket_start >= ? AND bucket_start < ?', [deviceId, hourStart, hourEnd]);
    await sql.execute(
      `INSERT INTO reading_rollups (device_id, resolution, bucket_start, metric, count, min_value, max_value, sum_value)
       SELECT device_id, 3600, bucket_start - (bucket_start % ${HOUR_MS}), metric, SUM(count), MIN(min_value), MAX(max_value), SUM(sum_value)
       FROM reading_rollups WHERE device_id = ? AND resolution = 60 AND bucket_start >= ? AND bucket_start < ?
       GROUP BY device_id, bucket_start - (bucket_start % ${HOUR_MS}), metric`,
      [deviceId, hourStart, hourEnd],
    );
  }
}

/** Splits marks (ordered by device, bucket) into runs of one device's consecutive minutes. */
function consecutiveRuns(marks: readonly Mark[]): Mark[][] {
  const runs: Mark[][] = [];
  let current: Mark[] = [];
  for (const mark of marks) {
    const previous = current.at(-1);
    if (previous !== undefined && (previous.deviceId !== mark.deviceId || previous.bucketStart + MINUTE_MS !== mark.bucketStart)) {
      runs.push(current);
      current = [];
    }
    current.push(mark);
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/**
 * Per metric its points. Metric names come from devices: they are data, kept as Map keys and only
 * at the end turned into the JSON object's own properties (Object.fromEntries defines them, so a
 * metric called `constructor` or `__proto__` is just another series).
 */
class MetricPoints {
  private readonly byMetric = new Map<string, SeriesPoint[]>();

  of(metric: string): SeriesPoint[] {
    let points = this.byMetric.get(metric);
    if (points === undefined) {
      points = [];
      this.byMetric.set(metric, points);
    }
    return points;
  }

  toRecord(): Record<string, SeriesPoint[]> {
    return Object.fromEntries(this.byMetric);
  }
}

function rawSeries(rows: readonly Row[]): Record<string, SeriesPoint[]> {
  const metrics = new MetricPoints();
  for (const row of rows) {
    const t = num(row.measured_at);
    for (const [metric, value] of Object.entries(jsonObject(row.values_json))) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      metrics.of(metric).push([t, value, value, value, 1]);
    }
  }
  return metrics.toRecord();
}

/** Points from rollup rows already merged per metric and slot (ordered so): slot `n` starts at `origin + n · bucketMs`. */
function mergedPoints(rows: readonly Row[], origin: number, bucketMs: number): Record<string, SeriesPoint[]> {
  const metrics = new MetricPoints();
  for (const row of rows) {
    const count = num(row.count);
    metrics.of(String(row.metric)).push([origin + num(row.slot) * bucketMs, num(row.min_value), num(row.sum_value) / count, num(row.max_value), count]);
  }
  return metrics.toRecord();
}
