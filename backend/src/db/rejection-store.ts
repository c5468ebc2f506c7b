import type { Clock } from '@iot/common/clock';
import type { RejectionReason } from '@iot/common/protocol';
import { num, type SqlAccess, strOrNull, truncateText } from './sql-access.ts';

/** Bytes of a rejected payload kept for inspection. */
export const PAYLOAD_EXCERPT_BYTES = 1024;
const TOPIC_CHARS = 255;
const DETAIL_CHARS = 1000;
const DEVICE_ID_CHARS = 64;

export interface NewRejection {
  topic: string;
  deviceId?: string | null;
  reason: RejectionReason;
  /** What was wrong, for a person (cut to 1000 characters). */
  detail: string;
  /** The message as received; only its first {@link PAYLOAD_EXCERPT_BYTES} bytes are kept. */
  payload: Buffer;
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
  /** The first bytes of the payload decoded as UTF-8 (invalid bytes become U+FFFD). */
  payloadExcerpt: string;
  payloadBytes: number;
}

/** Messages and entries the receiver did not store, with why (DESIGN.md §6: never silent). */
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
  recordRejection(rejection: NewRejection): Promise<number> {
    const excerpt = rejection.payload.subarray(0, PAYLOAD_EXCERPT_BYTES).toString('utf8');
    return this.db.transaction(async (sql) => {
      const { insertId } = await sql.execute(
        'INSERT INTO rejected_messages (received_at, topic, device_id, reason, detail, payload_excerpt, payload_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [
          rejection.receivedAt ?? this.clock.now(),
          truncateText(rejection.topic, TOPIC_CHARS),
          rejection.deviceId == null ? null : truncateText(rejection.deviceId, DEVICE_ID_CHARS),
          rejection.reason,
          truncateText(rejection.detail, DETAIL_CHARS),
          excerpt,
          rejection.payload.length,
        ],
      );
      return insertId ?? 0;
    });
  }

  /** Newest first. */
  listRejections(limit = 50, offset = 0): Promise<RejectionRecord[]> {
    const rowLimit = Math.max(1, Math.min(Math.floor(limit), 1000));
    const rowOffset = Math.max(0, Math.floor(offset));
    return this.db.read(async (sql) => {
      const rows = await sql.rows(
        `SELECT id, received_at, topic, device_id, reason, detail, payload_excerpt, payload_bytes FROM rejected_messages
         ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?`,
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
      }));
    });
  }

  countRejections(): Promise<number> {
    return this.db.read(async (sql) => num((await sql.rows('SELECT COUNT(*) AS n FROM rejected_messages'))[0]?.n ?? 0));
  }
}
