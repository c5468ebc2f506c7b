import type { Clock } from '@iot/common/clock';
import { readingKey, type SensorValue } from '@iot/common/protocol';
import type { BootGaps, BootWrite, IntegrityStore } from './integrity-store.ts';
import { minuteOf, type RollupStore } from './rollup-store.ts';
import { INSERT_CHUNK_ROWS, jsonObject, num, numOrNull, type Sql, type SqlAccess } from './sql-access.ts';

export type DeviceProtocol = 'v1' | 'original';

/**
 * A reading to store. Its identity (docs/delivery-guarantee.md §6) is (device, boot id, sequence) when it carries
 * one — every v1 reading, and original readings with `_boot_id`/`_seq` — and otherwise the
 * device's stream id, which is all an original reading has.
 */
export interface NewReading {
  bootId: string | null;
  seq: number | null;
  /** Where the entry sat in the device's stream (`<ms>-<n>`). */
  streamId: string;
  /** Device clock, ms since the epoch. */
  measuredAt: number;
  /**
   * Field name → value, e.g. `{ temperature_celsius: 21.5 }`; text only from original-format
   * readings (`{ status: "n/a" }`, docs/protocol.md §9), stored as a JSON string in `values_json`.
   */
  values: Readonly<Record<string, SensorValue>>;
  /**
   * Measured at a time implausible for when it arrived (docs/protocol.md §10): stored with
   * `readings.clock_skew = 1`, never dropped. Not part of the reading's data (no conflict).
   */
  clockSkew?: boolean;
}

/** What the sender told about itself; only given fields change the device row. */
export interface ReadingsMeta {
  protocol: DeviceProtocol;
  deviceType?: string;
  appId?: string;
  appName?: string;
  /** Backend time of receipt (received_at, last_seen_at); the clock's now when omitted. */
  receivedAt?: number;
  /** Clean-shutdown markers that came in the same batch, recorded in the same transaction. */
  shutdowns?: readonly ShutdownMarker[];
}

/** A boot's share of a group transaction: created if new, counters added if something was inserted. */
interface GroupBootWrite {
  deviceId: string;
  bootId: string;
  at: number;
  inserted: number;
  minSeq: number | null;
  maxSeq: number | null;
}

/** One device's batch in a group transaction ({@link ReadingStore.storeGroup}). */
export interface GroupBatch {
  deviceId: string;
  readings: readonly NewReading[];
  meta: ReadingsMeta;
}

export interface ShutdownMarker {
  bootId: string;
  /** The boot's last sequence number. */
  seq: number;
  /** Device clock, ms. */
  at: number;
}

/** A duplicate whose stored reading differs from the one received: same identity, other data. */
export interface ReadingConflict {
  key: string;
  stored: { measuredAt: number; values: Record<string, SensorValue> };
  received: { measuredAt: number; values: Record<string, SensorValue> };
}

export interface StoreResult {
  /** Readings inserted by this call. */
  stored: number;
  /** Readings whose identity was stored already (conflicts included). */
  duplicates: number;
  /** The duplicates that differ from what is stored; never silently dropped. */
  conflicts: ReadingConflict[];
}

export interface StoredReading extends NewReading {
  id: number;
  deviceId: string;
  key: string;
  receivedAt: number;
}

/** A device's newest reading by measured time (device page, fleet overview). */
export interface LatestValues {
  measuredAt: number;
  values: Record<string, SensorValue>;
}

/** One reading as the web admin pages and exports them. */
export interface ReadingRow {
  id: number;
  bootId: string | null;
  seq: number | null;
  measuredAt: number;
  receivedAt: number;
  values: Record<string, unknown>;
}

/** Position in a device's readings by time: the measured_at and row id of the last row of the previous page. */
export interface ReadingsCursor {
  measuredAt: number;
  id: number;
}

export type ShutdownOutcome = 'recorded' | 'duplicate' | 'conflict';

const READING_COLUMNS = ['device_id', 'reading_key', 'boot_id', 'seq', 'stream_id', 'measured_at', 'received_at', 'values_json', 'clock_skew'] as const;

/**
 * Readings per transaction of {@link ReadingStore.storeReadings}. An original device's backlog
 * arrives as one message of up to 16 MiB (docs/protocol.md §9), 70 000 readings and more: as one
 * transaction that would hold the device row's lock, and MariaDB's undo log, for all of it.
 * v1 batches (at most 10 000 entries, usually far fewer) mostly fit in one.
 */
export const STORE_CHUNK_READINGS = 5000;

/**
 * Readings, boots and device presence. Writing a batch is one transaction that stores each
 * reading at most once: the database's unique key (device, reading key) absorbs duplicates,
 * which are expected (docs/delivery-guarantee.md §3: the uplink re-publishes until acknowledged).
 */
export class ReadingStore {
  private readonly db: SqlAccess;
  private readonly clock: Clock;
  private readonly rollups: RollupStore;
  private readonly integrity: IntegrityStore;

  constructor(db: SqlAccess, clock: Clock, rollups: RollupStore, integrity: IntegrityStore) {
    this.db = db;
    this.clock = clock;
    this.rollups = rollups;
    this.integrity = integrity;
  }

  /**
   * Stores a batch: in one transaction when it has at most {@link STORE_CHUNK_READINGS} readings,
   * otherwise in consecutive transactions of that many. Each one upserts the device row, adds a
   * boot row for each boot seen first, inserts the readings skipping duplicates (per boot, so the
   * boots' counters learn what was really inserted; on MariaDB one multi-row statement per
   * {@link INSERT_CHUNK_ROWS} rows, see SqlAccess.insertSkippingDuplicates), updates the integrity
   * counters and marks the rollup buckets touched; the last also records the shutdown markers
   * given in `meta`. When there were duplicates, one SELECT (per {@link INSERT_CHUNK_ROWS} keys)
   * compares them with what is stored to find conflicts. A failure after some chunks leaves those
   * committed: sent again, they are duplicates the unique key absorbs. Resolves only after the
   * last COMMIT: then the batch may be acknowledged.
   */
  async storeReadings(deviceId: string, readings: readonly NewReading[], meta: ReadingsMeta = { protocol: 'v1' }): Promise<StoreResult> {
    const receivedAt = meta.receivedAt ?? this.clock.now();
    const total: StoreResult = { stored: 0, duplicates: 0, conflicts: [] };
    for (let start = 0; start === 0 || start < readings.length; start += STORE_CHUNK_READINGS) {
      const chunk = readings.length <= STORE_CHUNK_READINGS ? readings : readings.slice(start, start + STORE_CHUNK_READINGS);
      const last = start + STORE_CHUNK_READINGS >= readings.length;
      const result = await this.storeChunk(deviceId, chunk, meta, receivedAt, last ? (meta.shutdowns ?? []) : []);
      total.stored += result.stored;
      total.duplicates += result.duplicates;
      for (const conflict of result.conflicts) total.conflicts.push(conflict);
    }
    return total;
  }

  /**
   * Stores the batches of several devices in one transaction (the receiver's group commit): one
   * COMMIT, and so one log flush, for all of them, and multi-row statements across devices where
   * the per-batch path ({@link storeReadings}) sends one per batch. Each batch keeps the meaning it
   * has there (devices, boots, counters, rollup marks, shutdown markers, conflicts), and the
   * results come back in the order of `batches`. Each batch may hold at most
   * {@link STORE_CHUNK_READINGS} readings; a larger one goes through {@link storeReadings}.
   *
   * The readings of all batches go in as one multi-row INSERT (per {@link INSERT_CHUNK_ROWS}
   * rows). When it inserted every row, each boot's counter learns its row count; when some were
   * duplicates, the INSERT is rolled back to a savepoint and done again per batch and boot, as
   * {@link storeChunk} does, so the counters learn exactly which batch and boot inserted what.
   * All or nothing: one failure rolls the whole group back.
   */
  storeGroup(batches: readonly GroupBatch[]): Promise<StoreResult[]> {
    const oversized = batches.find((b) => b.readings.length > STORE_CHUNK_READINGS);
    if (oversized !== undefined) throw new RangeError(`a batch in a group holds at most ${STORE_CHUNK_READINGS} readings; device ${oversized.deviceId} sent ${oversized.readings.length}`);
    const now = this.clock.now();
    // Sorted by device (stable): every group locks the device rows it touches in the same order,
    // so two groups running at once cannot deadlock on them.
    const order = batches.map((_, i) => i).sort((a, b) => compare(batches[a]!.deviceId, batches[b]!.deviceId) || a - b);
    const prepared = order.map((index) => {
      const batch = batches[index]!;
      const receivedAt = batch.meta.receivedAt ?? now;
      return { index, batch, receivedAt, groups: groupByBoot(batch.deviceId, batch.readings, receivedAt) };
    });
    return this.db.transaction(async (sql) => {
      await this.upsertDevices(
        sql,
        prepared.map((p) => ({ deviceId: p.batch.deviceId, meta: p.batch.meta, at: p.receivedAt })),
      );
      const inserted = await this.insertGroupRows(sql, prepared.map((p) => p.groups));
      // Per device and boot, what the group added: one multi-row statement each for the boots,
      // the devices' counters and the rollup marks, in (device, …) order like the device rows.
      const boots = new Map<string, GroupBootWrite>();
      const counters = new Map<string, { stored: number; duplicates: number; at: number; protocol: string }>();
      const marks = new Map<string, [string, number]>();
      const results = new Array<StoreResult>(batches.length);
      for (const [k, p] of prepared.entries()) {
        const { deviceId, readings } = p.batch;
        for (const r of readings) {
          if (r.bootId !== null && !boots.has(`${deviceId}\u0000${r.bootId}`)) boots.set(`${deviceId}\u0000${r.bootId}`, { deviceId, bootId: r.bootId, at: p.receivedAt, inserted: 0, minSeq: null, maxSeq: null });
        }
        const counts = inserted[k]!;
        for (const [j, group] of p.groups.entries()) {
          const boot = group.boot === undefined ? undefined : boots.get(`${deviceId}\u0000${group.boot.bootId}`);
          // As IntegrityStore.recordStoredIn: a boot whose readings were all duplicates keeps its range.
          if (boot === undefined || group.boot === undefined || counts[j] === 0) continue;
          boot.inserted += counts[j]!;
          boot.minSeq = Math.min(boot.minSeq ?? group.boot.minSeq, group.boot.minSeq);
          boot.maxSeq = Math.max(boot.maxSeq ?? group.boot.maxSeq, group.boot.maxSeq);
        }
        const stored = counts.reduce((sum, n) => sum + n, 0);
        const duplicates = readings.length - stored;
        const counter = counters.get(deviceId) ?? { stored: 0, duplicates: 0, at: p.receivedAt, protocol: p.batch.meta.protocol };
        counter.stored += stored;
        counter.duplicates += duplicates;
        counters.set(deviceId, counter);
        if (stored > 0) for (const r of readings) marks.set(`${deviceId}\u0000${minuteOf(r.measuredAt)}`, [deviceId, minuteOf(r.measuredAt)]);
        results[p.index] = { stored, duplicates, conflicts: [] };
      }
      await this.addBootCounters(sql, [...boots.values()]);
      await this.addDeviceCounters(sql, [...counters].filter(([, c]) => c.stored > 0 || c.duplicates > 0));
      if (marks.size > 0) {
        // Marked in this transaction, so the charts' rollups can never miss a committed reading (RollupStore.markDirty).
        const rows = [...marks.values()].sort(([da, ba], [db, bb]) => compare(da, db) || ba - bb).map(([deviceId, bucket]) => [deviceId, bucket, 1]);
        const upsert = this.db.upsertRows('rollup_dirty', ['device_id', 'bucket_start', 'generation'], rows, ['device_id', 'bucket_start'], ['generation = generation + 1']);
        await sql.execute(upsert.sql, upsert.params);
      }
      for (const p of prepared) {
        const { deviceId, readings, meta } = p.batch;
        for (const marker of meta.shutdowns ?? []) await this.shutdownIn(sql, deviceId, marker, p.receivedAt);
        const result = results[p.index]!;
        if (result.duplicates > 0) result.conflicts = await this.findConflicts(sql, deviceId, readings);
      }
      return results;
    });
  }

  /**
   * Creates the boots seen first and adds what was inserted to each boot's counters and sequence
   * range, in one statement: what insertBoots and IntegrityStore.recordStoredIn do for one batch.
   */
  private async addBootCounters(sql: Sql, boots: readonly GroupBootWrite[]): Promise<void> {
    if (boots.length === 0) return;
    const v = (column: string) => this.db.inserted(column);
    const widen = (column: string, op: '>' | '<') =>
      `${column} = CASE WHEN ${v(column)} IS NULL THEN ${column} WHEN ${column} IS NULL OR ${column} ${op} ${v(column)} THEN ${v(column)} ELSE ${column} END`;
    const sorted = [...boots].sort((a, b) => compare(a.deviceId, b.deviceId) || compare(a.bootId, b.bootId));
    const upsert = this.db.upsertRows(
      'boots',
      ['device_id', 'boot_id', 'first_seen_at', 'readings', 'min_seq', 'max_seq'],
      sorted.map((b) => [b.deviceId, b.bootId, b.at, b.inserted, b.minSeq, b.maxSeq]),
      ['device_id', 'boot_id'],
      [`readings = readings + ${v('readings')}`, widen('min_seq', '>'), widen('max_seq', '<')],
    );
    await sql.execute(upsert.sql, upsert.params);
  }

  /** The devices' readings_stored and duplicates_absorbed, in one statement (the rows exist: upserted first). */
  private async addDeviceCounters(sql: Sql, counters: readonly [string, { stored: number; duplicates: number; at: number; protocol: string }][]): Promise<void> {
    if (counters.length === 0) return;
    const v = (column: string) => this.db.inserted(column);
    const upsert = this.db.upsertRows(
      'devices',
      ['id', 'protocol', 'first_seen_at', 'last_seen_at', 'readings_stored', 'duplicates_absorbed'],
      counters.map(([id, c]) => [id, c.protocol, c.at, c.at, c.stored, c.duplicates]),
      ['id'],
      [`readings_stored = readings_stored + ${v('readings_stored')}`, `duplicates_absorbed = duplicates_absorbed + ${v('duplicates_absorbed')}`],
    );
    await sql.execute(upsert.sql, upsert.params);
  }

  /** Rows inserted per batch and boot group: all in one go if none is a duplicate, else group by group. */
  private async insertGroupRows(sql: Sql, batches: readonly BootGroup[][]): Promise<number[][]> {
    const all = batches.flatMap((groups) => groups.flatMap((g) => g.rows));
    await sql.execute('SAVEPOINT group_rows');
    const inserted = await this.db.insertSkippingDuplicates(sql, 'readings', READING_COLUMNS, all, ['device_id', 'reading_key']);
    if (inserted === all.length) {
      await sql.execute('RELEASE SAVEPOINT group_rows');
      return batches.map((groups) => groups.map((g) => g.rows.length));
    }
    await sql.execute('ROLLBACK TO SAVEPOINT group_rows');
    const counts: number[][] = [];
    for (const groups of batches) {
      const own: number[] = [];
      for (const group of groups) own.push(await this.db.insertSkippingDuplicates(sql, 'readings', READING_COLUMNS, group.rows, ['device_id', 'reading_key']));
      counts.push(own);
    }
    return counts;
  }

  private storeChunk(deviceId: string, readings: readonly NewReading[], meta: ReadingsMeta, receivedAt: number, shutdowns: readonly ShutdownMarker[]): Promise<StoreResult> {
    const groups = groupByBoot(deviceId, readings, receivedAt);
    return this.db.transaction(async (sql) => {
      // First: the device row's lock serialises the batches of one device (MariaDB), so their
      // counter updates below cannot deadlock.
      await this.upsertDevices(sql, [{ deviceId, meta, at: receivedAt }]);
      const bootIds = [...new Set(readings.flatMap((r) => (r.bootId === null ? [] : [r.bootId])))];
      await this.insertBoots(sql, deviceId, bootIds, receivedAt);
      let stored = 0;
      const boots: BootWrite[] = [];
      for (const group of groups) {
        const inserted = await this.db.insertSkippingDuplicates(sql, 'readings', READING_COLUMNS, group.rows, ['device_id', 'reading_key']);
        stored += inserted;
        if (group.boot !== undefined) boots.push({ ...group.boot, inserted });
      }
      const duplicates = readings.length - stored;
      await this.integrity.recordStoredIn(sql, deviceId, boots, stored, duplicates);
      for (const marker of shutdowns) await this.shutdownIn(sql, deviceId, marker, receivedAt);
      // Marked in this transaction, so the charts' rollups can never miss a committed reading.
      if (stored > 0) await this.rollups.markDirty(sql, deviceId, readings.map((r) => r.measuredAt));
      const conflicts = duplicates > 0 ? await this.findConflicts(sql, deviceId, readings) : [];
      return { stored, duplicates, conflicts };
    });
  }

  /**
   * Records a clean shutdown of `bootId` after sequence `seq`. A repeated marker is a
   * `'duplicate'`; one that names another last sequence than the stored one is a `'conflict'`
   * and leaves the stored one in place.
   */
  recordShutdown(deviceId: string, bootId: string, seq: number, at: number): Promise<ShutdownOutcome> {
    return this.db.transaction((sql) => this.shutdownIn(sql, deviceId, { bootId, seq, at }, this.clock.now()));
  }

  /** Readings stored, of one device or of all. */
  countReadings(deviceId?: string): Promise<number> {
    return this.db.read(async (sql) => {
      const rows = deviceId === undefined
        ? await sql.rows('SELECT COUNT(*) AS n FROM readings')
        : await sql.rows('SELECT COUNT(*) AS n FROM readings WHERE device_id = ?', [deviceId]);
      return num(rows[0]?.n ?? 0);
    });
  }

  /** The reading keys of a device in storage order (for the checker and tests). */
  readingKeys(deviceId: string): Promise<string[]> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows('SELECT reading_key FROM readings WHERE device_id = ? ORDER BY id', [deviceId]);
      return rows.map((r) => String(r.reading_key));
    });
  }

  /** A page of a device's readings in storage order, after row id `afterId`. */
  listReadings(deviceId: string, options: { afterId?: number; limit?: number } = {}): Promise<StoredReading[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 10_000));
    return this.db.read(async (sql) => {
      const rows = await sql.rows(
        `SELECT id, device_id, reading_key, boot_id, seq, stream_id, measured_at, received_at, values_json
         FROM readings WHERE device_id = ? AND id > ? ORDER BY id LIMIT ?`,
        [deviceId, options.afterId ?? 0, limit],
      );
      return rows.map((r) => ({
        id: num(r.id),
        deviceId: String(r.device_id),
        key: String(r.reading_key),
        bootId: r.boot_id === null ? null : String(r.boot_id),
        seq: numOrNull(r.seq),
        streamId: String(r.stream_id),
        measuredAt: num(r.measured_at),
        receivedAt: num(r.received_at),
        values: jsonObject(r.values_json) as Record<string, SensorValue>,
      }));
    });
  }

  /** The newest reading of a device by measured time, undefined before the first. */
  latestReading(deviceId: string): Promise<LatestValues | undefined> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows('SELECT measured_at, values_json FROM readings WHERE device_id = ? ORDER BY measured_at DESC LIMIT 1', [deviceId]);
      const row = rows[0];
      return row === undefined ? undefined : { measuredAt: num(row.measured_at), values: jsonObject(row.values_json) as Record<string, SensorValue> };
    });
  }

  /**
   * A page of one device's readings in a measured-at range (inclusive bounds), in time order
   * (ties by row id), after `after`. Keyset paging on the (device, measured_at) index: every page
   * costs the same however deep it is, which an OFFSET or an ORDER BY id over the range would not.
   */
  page(
    deviceId: string,
    range: { from?: number | undefined; to?: number | undefined },
    after: ReadingsCursor | undefined,
    limit: number,
    order: 'asc' | 'desc' = 'asc',
  ): Promise<ReadingRow[]> {
    let low = range.from ?? 0;
    let high = range.to ?? Number.MAX_SAFE_INTEGER;
    // The cursor narrows the index range to its side, and the `past` condition drops the rows
    // of its own measured_at up to and including its id.
    if (after !== undefined && order === 'asc') low = Math.max(low, after.measuredAt);
    if (after !== undefined && order === 'desc') high = Math.min(high, after.measuredAt);
    const past = after === undefined ? '' : order === 'asc' ? 'AND (measured_at > ? OR id > ?)' : 'AND (measured_at < ? OR id < ?)';
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    return this.db.read(async (sql) => {
      // A deferred join: the page's ids come from the covering (device, measured_at, id) index as a
      // range scan. Asked for the wide rows directly, MariaDB walks that index from the device's
      // first entry (a "ref" scan filtering measured_at) — 250 ms deep into a million readings.
      const rows = await sql.rows(
        `SELECT r.id, r.boot_id, r.seq, r.measured_at, r.received_at, r.values_json
         FROM (SELECT id FROM readings WHERE device_id = ? AND measured_at >= ? AND measured_at <= ? ${past}
               ORDER BY measured_at ${direction}, id ${direction} LIMIT ?) page
         JOIN readings r ON r.id = page.id
         ORDER BY r.measured_at ${direction}, r.id ${direction}`,
        [deviceId, low, high, ...(after === undefined ? [] : [after.measuredAt, after.id]), Math.max(1, Math.floor(limit))],
      );
      return rows.map((r) => ({
        id: num(r.id),
        bootId: r.boot_id === null ? null : String(r.boot_id),
        seq: numOrNull(r.seq),
        measuredAt: num(r.measured_at),
        receivedAt: num(r.received_at),
        values: jsonObject(r.values_json),
      }));
    });
  }

  /** Sequence numbers missing per boot of the device (IntegrityStore.gaps, all ranges up to its default limit). */
  gaps(deviceId: string): Promise<BootGaps[]> {
    return this.integrity.gaps(deviceId);
  }

  /** One statement for all rows; a device given twice is upserted twice, in the order given. */
  private async upsertDevices(sql: Sql, devices: readonly { deviceId: string; meta: ReadingsMeta; at: number }[]): Promise<void> {
    const keep = (column: string) => `${column} = COALESCE(${this.db.inserted(column)}, ${column})`;
    const upsert = this.db.upsertRows(
      'devices',
      ['id', 'protocol', 'device_type', 'app_id', 'app_name', 'first_seen_at', 'last_seen_at'],
      devices.map(({ deviceId, meta, at }) => [deviceId, meta.protocol, meta.deviceType ?? null, meta.appId ?? null, meta.appName ?? null, at, at]),
      ['id'],
      [
        `protocol = ${this.db.inserted('protocol')}`,
        keep('device_type'),
        keep('app_id'),
        keep('app_name'),
        `last_seen_at = ${this.db.greatest('last_seen_at', this.db.inserted('last_seen_at'))}`,
      ],
    );
    await sql.execute(upsert.sql, upsert.params);
  }

  private async insertBoots(sql: Sql, deviceId: string, bootIds: readonly string[], at: number): Promise<void> {
    if (bootIds.length === 0) return;
    await this.db.insertSkippingDuplicates(sql, 'boots', ['device_id', 'boot_id', 'first_seen_at'], bootIds.map((b) => [deviceId, b, at]), ['device_id', 'boot_id']);
  }

  private async shutdownIn(sql: Sql, deviceId: string, marker: ShutdownMarker, receivedAt: number): Promise<ShutdownOutcome> {
    await this.insertBoots(sql, deviceId, [marker.bootId], receivedAt);
    const { affected } = await sql.execute('UPDATE boots SET shutdown_seq = ?, shutdown_at = ? WHERE device_id = ? AND boot_id = ? AND shutdown_seq IS NULL', [
      marker.seq,
      marker.at,
      deviceId,
      marker.bootId,
    ]);
    if (affected > 0) return 'recorded';
    const rows = await sql.rows('SELECT shutdown_seq FROM boots WHERE device_id = ? AND boot_id = ?', [deviceId, marker.bootId]);
    return num(rows[0]?.shutdown_seq) === marker.seq ? 'duplicate' : 'conflict';
  }

  private async findConflicts(sql: Sql, deviceId: string, readings: readonly NewReading[]): Promise<ReadingConflict[]> {
    const keys = [...new Set(readings.map(readingKey))];
    const stored = new Map<string, { measuredAt: number; values: Record<string, SensorValue> }>();
    for (let start = 0; start < keys.length; start += INSERT_CHUNK_ROWS) {
      const chunk = keys.slice(start, start + INSERT_CHUNK_ROWS);
      const keyIn = this.db.inList('reading_key', chunk);
      const rows = await sql.rows(`SELECT reading_key, measured_at, values_json FROM readings WHERE device_id = ? AND ${keyIn.clause}`, [deviceId, ...keyIn.params]);
      for (const row of rows) {
        stored.set(String(row.reading_key), { measuredAt: num(row.measured_at), values: JSON.parse(String(row.values_json)) as Record<string, SensorValue> });
      }
    }
    // Rows inserted by this call equal what was sent, so every difference is a real conflict
    // (with an earlier batch, or between two entries of this one).
    const conflicts: ReadingConflict[] = [];
    for (const reading of readings) {
      const key = readingKey(reading);
      const existing = stored.get(key);
      if (existing === undefined) continue;
      if (existing.measuredAt !== reading.measuredAt || !sameValues(existing.values, reading.values)) {
        conflicts.push({ key, stored: existing, received: { measuredAt: reading.measuredAt, values: { ...reading.values } } });
      }
    }
    return conflicts;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameValues(a: Readonly<Record<string, SensorValue>>, b: Readonly<Record<string, SensorValue>>): boolean {
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  return keysA.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

interface BootGroup {
  rows: unknown[][];
  /** Set for readings with a boot id and sequence number; undefined for the group without. */
  boot: Omit<BootWrite, 'inserted'> | undefined;
}

/** The batch's rows grouped by boot (readings without identity in one group), in batch order within each. */
function groupByBoot(deviceId: string, readings: readonly NewReading[], receivedAt: number): BootGroup[] {
  const groups = new Map<string | null, BootGroup>();
  for (const r of readings) {
    const bootId = r.bootId !== null && r.seq !== null ? r.bootId : null;
    let group = groups.get(bootId);
    if (group === undefined) {
      group = { rows: [], boot: bootId === null ? undefined : { bootId, minSeq: r.seq as number, maxSeq: r.seq as number } };
      groups.set(bootId, group);
    }
    group.rows.push([deviceId, readingKey(r), r.bootId, r.seq, r.streamId, r.measuredAt, receivedAt, JSON.stringify(r.values), r.clockSkew === true ? 1 : 0]);
    if (group.boot !== undefined && r.seq !== null) {
      group.boot.minSeq = Math.min(group.boot.minSeq, r.seq);
      group.boot.maxSeq = Math.max(group.boot.maxSeq, r.seq);
    }
  }
  return [...groups.values()];
}
