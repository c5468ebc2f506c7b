import { ClockSkewTally } from './clock-skew-tally.ts';
import { DEFAULT_GAP_FACTOR, findSuspectedGaps, isUsableTime, LOCAL_WINDOW, medianInterval, type SuspectedGap, type TimePoint } from './cadence.ts';
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

/** A boot on GET /api/integrity: its summary and how many of its readings carry the clock-skew flag. */
export interface BootIntegrity extends BootSummary {
  /** Readings of the boot stored with `clock_skew = 1`: measured at a time implausible for their arrival. */
  clockSkewed: number;
}

/** One device on GET /api/integrity. */
export interface DeviceIntegrity {
  id: string;
  name: string | null;
  readings: number;
  duplicatesAbsorbed: number;
  /** Sequence numbers missing over all boots. */
  missing: number;
  /** Readings stored without a sequence number (the original software's), from the counters. */
  unsequenced: number;
  /** Readings stored with `clock_skew = 1` (measured at a time implausible for their arrival), boots or none. */
  clockSkewed: number;
  /**
   * Suspected gaps among the newest {@link REPORT_SCAN_READINGS} readings, for a device with
   * readings without sequence numbers; null for one without. Older ones: {@link IntegrityStore.suspectedGaps}.
   */
  suspectedGaps: SuspectedGapScan | null;
  boots: BootIntegrity[];
}

/** Position in a device's readings by measured time (measured_at, then row id), newest first. */
export interface TimeCursor {
  measuredAt: number;
  id: number;
}

/**
 * One page of the search for suspected gaps: readings without sequence numbers, in measured time,
 * newest first, whose spacing is too long for their local interval (docs/original-devices.md §4).
 * Gaps are inferred, not counted: a device that stopped measuring, or a device clock set forward,
 * looks the same.
 */
export interface SuspectedGapScan {
  /** A spacing counts when it is at least this many local intervals. */
  factor: number;
  /** Readings of the page (newest first, at most the page size asked for), whatever their kind. */
  scanned: number;
  /** Of those, the readings the gaps are found among: no sequence number, no clock-skew flag, a time a date can hold. */
  considered: number;
  /** Measured time of the oldest and newest considered reading of the page; null when none. */
  from: number | null;
  to: number | null;
  /** The median spacing of the considered readings, ms; null with fewer than two. */
  intervalMs: number | null;
  /** Suspected gaps found in the page and the readings they are estimated to have held. */
  gapCount: number;
  estimatedMissing: number;
  /** The newest gaps, newest first, at most the limit asked for. */
  gaps: SuspectedGap[];
  /** `<measured_at>.<id>` where the next older page starts (the `before` of the next call); null when this page reached the device's oldest reading. */
  next: string | null;
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

/** Readings the integrity report searches for suspected gaps per device: the newest this many. */
export const REPORT_SCAN_READINGS = 2000;
/** Suspected gaps the integrity report lists per device (the counts cover all it found). */
export const REPORT_SUSPECTED_GAPS = 50;
/** Readings a page of the suspected-gap search reads when the caller names no size, and at most. */
export const DEFAULT_SCAN_READINGS = 10_000;
export const MAX_SCAN_READINGS = 50_000;
/** Readings read beyond each end of a page so the spacings at its edges have their local interval. */
const CONTEXT_READINGS = 4 * LOCAL_WINDOW;

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
  private readonly clockSkew = new ClockSkewTally();

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

  /** Every device (by id), as {@link reportPage} gives them: for tools and tests on small fleets. */
  async report(options: { factor?: number | undefined } = {}): Promise<DeviceIntegrity[]> {
    return (await this.reportPage(options)).devices;
  }

  /**
   * One page of devices (by id, `limit` from `offset`; `search`: a substring of the id or name,
   * any case) with their counters and their boots (in order of first sight), and how many devices
   * match. Beyond the counters it reads the clock-skew flags of the readings stored since the last
   * report ({@link ClockSkewTally}) and, for each device of the page with readings without
   * sequence numbers, the suspected gaps among its newest {@link REPORT_SCAN_READINGS} readings (a
   * bounded page on the (device, measured_at) index). So a page costs what its devices cost,
   * whatever the size of the fleet.
   */
  reportPage(
    options: { factor?: number | undefined; search?: string | undefined; limit?: number | undefined; offset?: number | undefined } = {},
  ): Promise<{ devices: DeviceIntegrity[]; total: number }> {
    const limit = Math.max(1, Math.floor(options.limit ?? Number.MAX_SAFE_INTEGER));
    const offset = Math.max(0, Math.floor(options.offset ?? 0));
    return this.db.read(async (sql) => {
      // LIKE ignores case in both dialects (MariaDB's _ci collations, SQLite for ASCII), so no LOWER() per row.
      const search = options.search === undefined || options.search === '' ? undefined : `%${escapeLike(options.search)}%`;
      const where = search === undefined ? '' : "WHERE id LIKE ? ESCAPE '!' OR name LIKE ? ESCAPE '!'";
      const params = search === undefined ? [] : [search, search];
      const total = num((await sql.rows(`SELECT COUNT(*) AS n FROM devices ${where}`, params))[0]?.n ?? 0);
      const devices = await sql.rows(`SELECT id, name, readings_stored, duplicates_absorbed FROM devices ${where} ORDER BY id LIMIT ? OFFSET ?`, [...params, limit, offset]);
      const ids = devices.map((d) => String(d.id));
      const inPage = this.db.inList('device_id', ids);
      const boots = ids.length === 0 ? [] : await sql.rows(`SELECT ${BOOT_COLUMNS} FROM boots WHERE ${inPage.clause} ORDER BY device_id, first_seen_at, boot_id`, inPage.params);
      const skewed = await this.clockSkew.counts(sql);
      const byDevice = new Map<string, BootIntegrity[]>();
      for (const row of boots) {
        const list = byDevice.get(String(row.device_id)) ?? [];
        list.push({ ...toSummary(row), clockSkewed: skewed.get(String(row.device_id))?.get(String(row.boot_id)) ?? 0 });
        byDevice.set(String(row.device_id), list);
      }
      const report: DeviceIntegrity[] = [];
      for (const d of devices) {
        const id = String(d.id);
        const own = byDevice.get(id) ?? [];
        const readings = num(d.readings_stored);
        const unsequenced = Math.max(0, readings - own.reduce((sum, boot) => sum + boot.readings, 0));
        report.push({
          id,
          name: strOrNull(d.name),
          readings,
          duplicatesAbsorbed: num(d.duplicates_absorbed),
          missing: own.reduce((sum, boot) => sum + boot.missingCount, 0),
          unsequenced,
          clockSkewed: [...(skewed.get(id)?.values() ?? [])].reduce((sum, n) => sum + n, 0),
          suspectedGaps:
            unsequenced === 0 ? null : await this.scanIn(sql, id, { readings: REPORT_SCAN_READINGS, limit: REPORT_SUSPECTED_GAPS, factor: options.factor ?? DEFAULT_GAP_FACTOR }),
          boots: own,
        });
      }
      return { devices: report, total };
    });
  }

  /**
   * One page of suspected gaps of a device (docs/original-devices.md §4): its newest `readings`
   * readings by measured time (default {@link DEFAULT_SCAN_READINGS}, at most
   * {@link MAX_SCAN_READINGS}), or those before `before`, read as one bounded range of the
   * (device, measured_at) index, with a few more on either side as context for the local interval.
   * Each spacing is judged on the page that holds its newer reading, so paging with `next` judges
   * every spacing once.
   */
  suspectedGaps(
    deviceId: string,
    options: { before?: TimeCursor | undefined; readings?: number | undefined; limit?: number | undefined; factor?: number | undefined } = {},
  ): Promise<SuspectedGapScan> {
    const readings = Math.max(2, Math.min(Math.floor(options.readings ?? DEFAULT_SCAN_READINGS), MAX_SCAN_READINGS));
    const limit = Math.max(1, Math.min(Math.floor(options.limit ?? DEFAULT_GAP_RANGES), 100_000));
    return this.db.read((sql) => this.scanIn(sql, deviceId, { before: options.before, readings, limit, factor: options.factor ?? DEFAULT_GAP_FACTOR }));
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

  private async scanIn(sql: Sql, deviceId: string, page: { before?: TimeCursor | undefined; readings: number; limit: number; factor: number }): Promise<SuspectedGapScan> {
    const { before } = page;
    // Keyset ranges on the (device, measured_at) index (its entries end in the row id), ids first
    // and the rows after, as in ReadingStore.page: the page and the older context in one range...
    const older = await sql.rows(
      `SELECT r.id, r.measured_at, r.seq, r.clock_skew
       FROM (SELECT id FROM readings WHERE device_id = ? ${before === undefined ? '' : 'AND measured_at <= ? AND (measured_at < ? OR id < ?)'}
             ORDER BY measured_at DESC, id DESC LIMIT ?) page
       JOIN readings r ON r.id = page.id ORDER BY r.measured_at DESC, r.id DESC`,
      [deviceId, ...(before === undefined ? [] : [before.measuredAt, before.measuredAt, before.id]), page.readings + CONTEXT_READINGS],
    );
    // ...and the newer context, which the previous page judged.
    const newer =
      before === undefined
        ? []
        : await sql.rows(
            `SELECT r.id, r.measured_at, r.seq, r.clock_skew
             FROM (SELECT id FROM readings WHERE device_id = ? AND measured_at >= ? AND (measured_at > ? OR id >= ?)
                   ORDER BY measured_at ASC, id ASC LIMIT ?) page
             JOIN readings r ON r.id = page.id ORDER BY r.measured_at ASC, r.id ASC`,
            [deviceId, before.measuredAt, before.measuredAt, before.id, CONTEXT_READINGS],
          );
    const own = older.slice(0, page.readings);
    const considered = (rows: readonly Row[], judged: boolean): TimePoint[] => rows.filter(isConsidered).map((r) => ({ at: num(r.measured_at), judged }));
    const points = [...considered(older.slice(page.readings), false).reverse(), ...considered(own, true).reverse(), ...considered(newer, false)];
    const ownTimes = points.filter((p) => p.judged).map((p) => p.at);
    const gaps = findSuspectedGaps(points, page.factor).reverse();
    const last = own.at(-1);
    return {
      factor: page.factor,
      scanned: own.length,
      considered: ownTimes.length,
      from: ownTimes[0] ?? null,
      to: ownTimes.at(-1) ?? null,
      intervalMs: medianInterval(ownTimes),
      gapCount: gaps.length,
      estimatedMissing: gaps.reduce((sum, gap) => sum + gap.estimatedMissing, 0),
      gaps: gaps.slice(0, page.limit),
      next: own.length < page.readings || last === undefined ? null : cursorText(num(last.measured_at), num(last.id)),
    };
  }
}

/**
 * `<measured_at>.<id>`. A time that is no safe integer (garbage a database can hold: a fraction,
 * 1e300) resumes at the integer below it, so paging always moves on.
 */
function cursorText(measuredAt: number, id: number): string {
  const at = Number.isFinite(measuredAt) ? Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Math.floor(measuredAt), Number.MAX_SAFE_INTEGER)) : Number.MAX_SAFE_INTEGER;
  return `${at}.${id}`;
}

/** `text` for a LIKE pattern with `!` as the escape character: its wildcards match only themselves. */
function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

/** A reading the gap search counts: no sequence number (those have exact gaps), no clock-skew flag, a usable time. */
function isConsidered(row: Row): boolean {
  return row.seq === null && num(row.clock_skew) === 0 && isUsableTime(num(row.measured_at));
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
