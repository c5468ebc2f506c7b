import { num, numOrNull, type Row, type Sql, type SqlAccess, strOrNull } from './sql-access.ts';

/** What one boot of a device stored, from the counters kept at write time (no scan of readings). */
export interface BootSummary {
  bootId: string;
  firstSeenAt: number;
  /** Readings stored with a sequence number. */
  readings: number;
  /** Lowest and highest sequence stored, null when none. */
  minSeq: number | null;
  maxSeq: number | null;
  /** From the clean-shutdown marker; null when the boot has none (crash, power cut, or still running). */
  shutdownSeq: number | null;
  /** Sequence numbers missing between 1 and max(maxSeq, shutdownSeq). */
  missingCount: number;
}

/** Sequence numbers missing in one boot. */
export interface BootGaps extends BootSummary {
  /**
   * Missing sequence numbers as inclusive ranges, ascending, from 1 to max(maxSeq, shutdownSeq);
   * at most the limit asked for (then they cover fewer than `missingCount` numbers).
   */
  missing: Array<{ from: number; to: number }>;
}

/** One device on GET /api/integrity. */
export interface DeviceIntegrity {
  id: string;
  name: string | null;
  readings: number;
  duplicatesAbsorbed: number;
  /** Sequence numbers missing over all boots. */
  missing: number;
  boots: BootSummary[];
}

/** What one stored batch added to a boot: rows really inserted, and the sequence range of the batch's readings of it. */
export interface BootWrite {
  bootId: string;
  inserted: number;
  minSeq: number;
  maxSeq: number;
}

/** Gap ranges listed per boot when the caller names no limit. */
export const DEFAULT_GAP_RANGES = 1000;

const BOOT_COLUMNS = 'device_id, boot_id, first_seen_at, shutdown_seq, readings, min_seq, max_seq';

/**
 * Data integrity figures: readings stored and duplicates absorbed per device, and per boot the
 * readings stored and their sequence range. ReadingStore keeps the counters in each batch's own
 * transaction ({@link recordStoredIn}), so the figures cost a read of the devices and boots
 * tables however many readings there are; only listing which numbers are missing reads readings,
 * for one device (or boot) and only for boots that miss some inside their range.
 */
export class IntegrityStore {
  private readonly db: SqlAccess;

  constructor(db: SqlAccess) {
    this.db = db;
  }

  /**
   * Inside the batch's transaction, after its readings were inserted and its boots rows exist:
   * adds what was really inserted to the device's and the boots' counters, and the duplicates
   * absorbed to the device's. A duplicate's sequence number is stored already, so a batch's whole
   * sequence range may widen a boot's range.
   */
  async recordStoredIn(sql: Sql, deviceId: string, boots: readonly BootWrite[], stored: number, duplicates: number): Promise<void> {
    for (const boot of boots) {
      if (boot.inserted === 0) continue;
      await sql.execute(
        `UPDATE boots SET readings = readings + ?,
           min_seq = CASE WHEN min_seq IS NULL OR min_seq > ? THEN ? ELSE min_seq END,
           max_seq = CASE WHEN max_seq IS NULL OR max_seq < ? THEN ? ELSE max_seq END
         WHERE device_id = ? AND boot_id = ?`,
        [boot.inserted, boot.minSeq, boot.minSeq, boot.maxSeq, boot.maxSeq, deviceId, boot.bootId],
      );
    }
    if (stored > 0 || duplicates > 0) {
      await sql.execute('UPDATE devices SET readings_stored = readings_stored + ?, duplicates_absorbed = duplicates_absorbed + ? WHERE id = ?', [stored, duplicates, deviceId]);
    }
  }

  /** Every device (by id) with its counters and its boots (in order of first sight). */
  report(): Promise<DeviceIntegrity[]> {
    return this.db.read(async (sql) => {
      const devices = await sql.rows('SELECT id, name, readings_stored, duplicates_absorbed FROM devices ORDER BY id');
      const boots = await sql.rows(`SELECT ${BOOT_COLUMNS} FROM boots ORDER BY device_id, first_seen_at, boot_id`);
      const byDevice = new Map<string, BootSummary[]>();
      for (const row of boots) {
        const list = byDevice.get(String(row.device_id)) ?? [];
        list.push(toSummary(row));
        byDevice.set(String(row.device_id), list);
      }
      return devices.map((d) => {
        const own = byDevice.get(String(d.id)) ?? [];
        return {
          id: String(d.id),
          name: strOrNull(d.name),
          readings: num(d.readings_stored),
          duplicatesAbsorbed: num(d.duplicates_absorbed),
          missing: own.reduce((sum, boot) => sum + boot.missingCount, 0),
          boots: own,
        };
      });
    });
  }

  /** Devices known and readings stored, from the counters. */
  totals(): Promise<{ devices: number; readings: number }> {
    return this.db.read(async (sql) => {
      const row = (await sql.rows('SELECT COUNT(*) AS devices, COALESCE(SUM(readings_stored), 0) AS readings FROM devices'))[0];
      return { devices: num(row?.devices ?? 0), readings: num(row?.readings ?? 0) };
    });
  }

  /**
   * Per boot of the device (in order of first sight), or only `bootId`: the sequence numbers
   * missing between 1 and the highest known end of the boot (its highest stored sequence or its
   * shutdown marker), at most `limit` ranges per boot. Numbers missing inside the stored range
   * come from one window-function query per boot that has any (LAG over the (device, boot, seq)
   * index); a boot without such holes costs no read of its readings.
   */
  gaps(deviceId: string, options: { bootId?: string | undefined; limit?: number | undefined } = {}): Promise<BootGaps[]> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit ?? DEFAULT_GAP_RANGES), 100_000));
    return this.db.read(async (sql) => {
      const rows =
        options.bootId === undefined
          ? await sql.rows(`SELECT ${BOOT_COLUMNS} FROM boots WHERE device_id = ? ORDER BY first_seen_at, boot_id`, [deviceId])
          : await sql.rows(`SELECT ${BOOT_COLUMNS} FROM boots WHERE device_id = ? AND boot_id = ?`, [deviceId, options.bootId]);
      const result: BootGaps[] = [];
      for (const summary of rows.map(toSummary)) {
        const stored = summary.maxSeq ?? 0;
        const missing = stored > summary.readings ? await this.innerGaps(sql, deviceId, summary.bootId, limit) : [];
        const end = Math.max(stored, summary.shutdownSeq ?? 0);
        if (end > stored && missing.length < limit) missing.push({ from: stored + 1, to: end });
        result.push({ ...summary, missing });
      }
      return result;
    });
  }

  private async innerGaps(sql: Sql, deviceId: string, bootId: string, limit: number): Promise<Array<{ from: number; to: number }>> {
    const rows = await sql.rows(
      `SELECT prev_seq + 1 AS gap_from, seq - 1 AS gap_to FROM (
         SELECT seq, COALESCE(LAG(seq) OVER (ORDER BY seq), 0) AS prev_seq
         FROM readings WHERE device_id = ? AND boot_id = ? AND seq IS NOT NULL
       ) steps WHERE seq > prev_seq + 1 ORDER BY seq LIMIT ?`,
      [deviceId, bootId, limit],
    );
    return rows.map((r) => ({ from: num(r.gap_from), to: num(r.gap_to) }));
  }
}

function toSummary(row: Row): BootSummary {
  const readings = num(row.readings);
  const maxSeq = numOrNull(row.max_seq);
  const shutdownSeq = numOrNull(row.shutdown_seq);
  return {
    bootId: String(row.boot_id),
    firstSeenAt: num(row.first_seen_at),
    readings,
    minSeq: numOrNull(row.min_seq),
    maxSeq,
    shutdownSeq,
    missingCount: Math.max(0, Math.max(maxSeq ?? 0, shutdownSeq ?? 0) - readings),
  };
}
