import { num, type Sql } from './sql-access.ts';

/** Readings counted per query: a range of the primary key, so no query reads the whole table at once. */
export const TALLY_CHUNK_IDS = 100_000;
/**
 * The newest readings recounted on every call. A row's id is drawn when it is inserted and the row
 * becomes visible when its transaction commits, so a batch still open while newer ids commit
 * (MariaDB: batches of several devices at once) could be passed over if the tally stopped at the
 * newest id. Only a transaction open while this many newer readings commit is missed.
 */
export const TALLY_TAIL_IDS = 20_000;

/**
 * Readings stored with the clock-skew flag, per device and boot (docs/original-devices.md §4),
 * counted by primary-key ranges and kept: each call reads only the readings stored since the last
 * one (and the tail), so the integrity report does not read the readings table each time. No index
 * covers the flag: a grouped count over the table would take seconds per million readings, past
 * the query timeout on MariaDB. Readings are never deleted, and the receiver sets the flag when it
 * stores a reading (docs/protocol.md §10); a flag changed by hand on an older reading is counted
 * after the next start (or once readings are stored again). One tally per process; calls are serialised.
 */
export class ClockSkewTally {
  /** Counts of the readings with ids up to `settledTo`, by device and boot ('' for none). */
  private readonly settled = new Map<string, Map<string, number>>();
  private settledTo = 0;
  /** The last answer and what the readings looked like then (see {@link count}). */
  private last: { top: number; stored: number; counts: Map<string, Map<string, number>> } | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly chunkIds: number;
  private readonly tailIds: number;

  constructor(options: { chunkIds?: number; tailIds?: number } = {}) {
    this.chunkIds = options.chunkIds ?? TALLY_CHUNK_IDS;
    this.tailIds = options.tailIds ?? TALLY_TAIL_IDS;
  }

  /** Flagged readings per device and boot, as `sql` sees the readings table now. */
  counts(sql: Sql): Promise<Map<string, Map<string, number>>> {
    const next = this.running.then(() => this.count(sql));
    this.running = next.catch(() => undefined);
    return next;
  }

  /**
   * The tail's recount reads {@link TALLY_TAIL_IDS} rows, tens of ms on a busy server, so it is
   * skipped when no reading was committed since the last call: the newest id and the sum of the
   * devices' readings counters (kept in each batch's own transaction, so any commit of readings
   * moves it) are both as they were.
   */
  private async count(sql: Sql): Promise<Map<string, Map<string, number>>> {
    const row = (await sql.rows('SELECT (SELECT COALESCE(MAX(id), 0) FROM readings) AS top, (SELECT COALESCE(SUM(readings_stored), 0) FROM devices) AS stored'))[0];
    const top = num(row?.top ?? 0);
    const stored = num(row?.stored ?? 0);
    if (this.last !== undefined && this.last.top === top && this.last.stored === stored) return copy(this.last.counts);
    const settleTo = Math.max(this.settledTo, top - this.tailIds);
    // Chunk by chunk, each added only once its query answered: a failure leaves nothing half counted.
    while (this.settledTo < settleTo) {
      const end = Math.min(settleTo, this.settledTo + this.chunkIds);
      await this.countRange(sql, this.settledTo, end, this.settled);
      this.settledTo = end;
    }
    const counts = copy(this.settled);
    await this.countRange(sql, settleTo, top, counts);
    this.last = { top, stored, counts: copy(counts) };
    return counts;
  }

  private async countRange(sql: Sql, afterId: number, toId: number, into: Map<string, Map<string, number>>): Promise<void> {
    if (toId <= afterId) return;
    const rows = await sql.rows('SELECT device_id, boot_id, COUNT(*) AS n FROM readings WHERE id > ? AND id <= ? AND clock_skew = 1 GROUP BY device_id, boot_id', [afterId, toId]);
    for (const row of rows) {
      const device = into.get(String(row.device_id)) ?? new Map<string, number>();
      const boot = row.boot_id === null ? '' : String(row.boot_id);
      device.set(boot, (device.get(boot) ?? 0) + num(row.n));
      into.set(String(row.device_id), device);
    }
  }
}

function copy(counts: ReadonlyMap<string, ReadonlyMap<string, number>>): Map<string, Map<string, number>> {
  return new Map([...counts].map(([device, boots]) => [device, new Map(boots)]));
}
