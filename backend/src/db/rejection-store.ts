import type { Clock } from '@iot/common/clock';
import type { RejectionReason } from '@iot/common/protocol';
import { num, type Sql, type SqlAccess, strOrNull, truncateText } from './sql-access.ts';

/** Bytes of a rejected payload kept for inspection. */
export const PAYLOAD_EXCERPT_BYTES = 1024;
const TOPIC_CHARS = 255;
const DETAIL_CHARS = 1000;
const DEVICE_ID_CHARS = 64;
/** Rows deleted per statement by {@link RejectionStore.prune}: short transactions, so ingestion is never held up long. */
const PRUNE_CHUNK_ROWS = 5000;

export interface NewRejection {
  topic: string;
  deviceId?: string | null;
  reason: RejectionReason;
  /** What was wrong, for a person (cut to 1000 characters). */
  detail: string;
  /** The message as received; only its first {@link PAYLOAD_EXCERPT_BYTES} bytes are kept (unless `excerpt` is given). */
  payload: Buffer;
  /** What to keep instead of the payload's first bytes, e.g. the bad entries of a batch (cut to the same size). */
  excerpt?: string;
  /** How many messages or entries this row stands for (1 when omitted): one row per message, however many entries were bad. */
  count?: number;
  /** Backend time; the clock's now when omitted. */
  receivedAt?: number;
}

export interface RejectionRecord {
  id: number;
  receivedAt: number;
  topic: string;
  deviceId: string | null;
  reason: RejectionReason;
  detail: string;
  /** The first bytes of the payload decoded as UTF-8 (invalid bytes become U+FFFD), or the excerpt given. */
  payloadExcerpt: string;
  payloadBytes: number;
  /** How many messages or entries the row stands for. */
  count: number;
}

/**
 * Messages and entries the receiver did not store, with why (docs/security.md §5: never silent). Bounded
 * three ways, because devices control what arrives here: one row per message and reason however
 * many entries were bad (`count` says how many; migration ReceiverLimits keeps counts other than 1
 * in `rejected_message_counts`), a rate limit per device in the receiver, and retention by age and
 * by row count ({@link prune}).
 */
export class RejectionStore {
  private readonly db: SqlAccess;
  private readonly clock: Clock;

  constructor(db: SqlAccess, clock: Clock) {
    this.db = db;
    this.clock = clock;
  }

  /**
   * Records one rejection. Topic, device id and detail are cut to their column sizes here (a rejected
   * message's topic can be anything the broker let through); the excerpt is the payload's first
   * {@link PAYLOAD_EXCERPT_BYTES} bytes. @returns the new row's id.
   */
  async recordRejection(rejection: NewRejection): Promise<number> {
    const [id] = await this.recordRejections([rejection]);
    return id ?? 0;
  }

  /** Records the rows of one message in one transaction. @returns their ids. */
  recordRejections(rejections: readonly NewRejection[]): Promise<number[]> {
    if (rejections.length === 0) return Promise.resolve([]);
    return this.db.transaction(async (sql) => {
      const ids: number[] = [];
      for (const rejection of rejections) ids.push(await this.insert(sql, rejection));
      return ids;
    });
  }

  private async insert(sql: Sql, rejection: NewRejection): Promise<number> {
    const receivedAt = rejection.receivedAt ?? this.clock.now();
    const excerpt =
      rejection.excerpt === undefined ? rejection.payload.subarray(0, PAYLOAD_EXCERPT_BYTES).toString('utf8') : truncateText(rejection.excerpt, PAYLOAD_EXCERPT_BYTES);
    const { insertId } = await sql.execute(
      'INSERT INTO rejected_messages (received_at, topic, device_id, reason, detail, payload_excerpt, payload_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [
        receivedAt,
        truncateText(rejection.topic, TOPIC_CHARS),
        rejection.deviceId == null ? null : truncateText(rejection.deviceId, DEVICE_ID_CHARS),
        rejection.reason,
        truncateText(rejection.detail, DETAIL_CHARS),
        excerpt,
        rejection.payload.length,
      ],
    );
    const id = insertId ?? 0;
    const count = Math.max(1, Math.floor(rejection.count ?? 1));
    if (count !== 1) await sql.execute('INSERT INTO rejected_message_counts (rejection_id, received_at, entries) VALUES (?, ?, ?)', [id, receivedAt, count]);
    return id;
  }

  /** Newest first. */
  listRejections(limit = 50, offset = 0): Promise<RejectionRecord[]> {
    const rowLimit = Math.max(1, Math.min(Math.floor(limit), 1000));
    const rowOffset = Math.max(0, Math.floor(offset));
    return this.db.read(async (sql) => {
      const rows = await sql.rows(
        `SELECT r.id, r.received_at, r.topic, r.device_id, r.reason, r.detail, r.payload_excerpt, r.payload_bytes, c.entries
         FROM rejected_messages r LEFT JOIN rejected_message_counts c ON c.rejection_id = r.id
         ORDER BY r.received_at DESC, r.id DESC LIMIT ? OFFSET ?`,
        [rowLimit, rowOffset],
      );
      return rows.map((r) => ({
        id: num(r.id),
        receivedAt: num(r.received_at),
        topic: String(r.topic),
        deviceId: strOrNull(r.device_id),
        reason: String(r.reason) as RejectionReason,
        detail: String(r.detail),
        payloadExcerpt: String(r.payload_excerpt),
        payloadBytes: num(r.payload_bytes),
        count: r.entries === null || r.entries === undefined ? 1 : num(r.entries),
      }));
    });
  }

  /** Rows kept. */
  countRejections(): Promise<number> {
    return this.db.read(async (sql) => num((await sql.rows('SELECT COUNT(*) AS n FROM rejected_messages'))[0]?.n ?? 0));
  }

  /** Messages and entries the rows stand for, per device (null: no device), for the integrity view and tests. */
  countRejectedByDevice(): Promise<Map<string | null, number>> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows(
        `SELECT r.device_id, SUM(COALESCE(c.entries, 1)) AS n
         FROM rejected_messages r LEFT JOIN rejected_message_counts c ON c.rejection_id = r.id GROUP BY r.device_id`,
      );
      return new Map(rows.map((r) => [strOrNull(r.device_id), num(r.n)]));
    });
  }

  /**
   * Retention: deletes rows received before `before`, then all but the newest `keepRows`, in
   * chunks of {@link PRUNE_CHUNK_ROWS} rows per transaction. Safe to run from several receivers
   * at once (deleting what another already deleted deletes nothing). @returns rows deleted.
   */
  async prune(options: { before: number; keepRows: number }): Promise<{ byAge: number; byCount: number }> {
    const byAge = await this.deleteInChunks('received_at < ?', [options.before]);
    await this.db.transaction((sql) => sql.execute('DELETE FROM rejected_message_counts WHERE received_at < ?', [options.before]));
    const threshold = await this.db.read(async (sql) => {
      const rows = await sql.rows('SELECT id FROM rejected_messages ORDER BY id DESC LIMIT 1 OFFSET ?', [Math.max(0, Math.floor(options.keepRows))]);
      return rows[0] === undefined ? undefined : num(rows[0].id);
    });
    if (threshold === undefined) return { byAge, byCount: 0 };
    const byCount = await this.deleteInChunks('id <= ?', [threshold]);
    await this.db.transaction((sql) => sql.execute('DELETE FROM rejected_message_counts WHERE rejection_id <= ?', [threshold]));
    return { byAge, byCount };
  }

  private async deleteInChunks(where: string, params: readonly unknown[]): Promise<number> {
    // MariaDB takes LIMIT on a single-table DELETE but not in an IN subquery; SQLite the other way round.
    const statement =
      this.db.kind === 'mariadb'
        ? `DELETE FROM rejected_messages WHERE ${where} ORDER BY id LIMIT ${PRUNE_CHUNK_ROWS}`
        : `DELETE FROM rejected_messages WHERE id IN (SELECT id FROM rejected_messages WHERE ${where} ORDER BY id LIMIT ${PRUNE_CHUNK_ROWS})`;
    let deleted = 0;
    for (;;) {
      const { affected } = await this.db.transaction((sql) => sql.execute(statement, params));
      deleted += affected;
      if (affected < PRUNE_CHUNK_ROWS) return deleted;
    }
  }
}
