import type { Clock } from '@iot/common/clock';
import { boolOrNull, jsonOrNull, num, numOrNull, type Row, type Sql, type SqlAccess, strOrNull } from './sql-access.ts';

/** pending → sent (the broker took it) or failed (it did not). Answers are rows of their own. */
export type BroadcastState = 'pending' | 'sent' | 'failed';

export interface NewBroadcast {
  id: string;
  /** Command name as sent, e.g. `set_config`. */
  command: string;
  /** The command's other fields as sent, plus `requested` when translated. */
  args: Record<string, unknown>;
  createdAt: number;
  /** Answers after this are no longer tied to the broadcast (docs/original-devices.md §3). */
  expiresAt: number;
  /** Who sent it (web admin user or CLI), for the audit trail. */
  createdBy: string | null;
}

export interface BroadcastAnswer {
  deviceId: string;
  answeredAt: number;
  /** true/false as the device said; null: received, but the device's software reports no outcome. */
  ok: boolean | null;
  response: unknown;
}

export interface BroadcastRecord extends NewBroadcast {
  state: BroadcastState;
  sentAt: number | null;
  error: unknown;
  /** Answers by outcome. */
  answers: { total: number; ok: number; failed: number; notReported: number };
}

const COLUMNS = 'b.id, b.command, b.args_json, b.state, b.created_at, b.sent_at, b.expires_at, b.created_by, b.error_json';
// BOOLEAN is TINYINT on MariaDB and INTEGER on SQLite: 1 and 0 on both.
const COUNTS = `(SELECT COUNT(*) FROM broadcast_answers a WHERE a.broadcast_id = b.id) AS total,
  (SELECT COUNT(*) FROM broadcast_answers a WHERE a.broadcast_id = b.id AND a.ok = 1) AS ok_count,
  (SELECT COUNT(*) FROM broadcast_answers a WHERE a.broadcast_id = b.id AND a.ok = 0) AS failed_count`;

/**
 * Commands to every device on the broadcast topic, and each device's answer to them: one row per
 * device (docs/original-devices.md §3). Recorded before they are published.
 */
export class BroadcastStore {
  private readonly db: SqlAccess;
  private readonly clock: Clock;

  constructor(db: SqlAccess, clock: Clock) {
    this.db = db;
    this.clock = clock;
  }

  create(broadcast: NewBroadcast): Promise<void> {
    return this.db.transaction(async (sql) => {
      await sql.execute(
        'INSERT INTO broadcasts (id, command, args_json, state, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [broadcast.id, broadcast.command, JSON.stringify(broadcast.args), 'pending' satisfies BroadcastState, broadcast.createdAt, broadcast.expiresAt, broadcast.createdBy],
      );
    });
  }

  /** pending → sent. */
  markSent(id: string, at: number = this.clock.now()): Promise<boolean> {
    return this.update("UPDATE broadcasts SET state = 'sent', sent_at = ? WHERE id = ? AND state = 'pending'", [at, id]);
  }

  /** pending → failed, with why. */
  markFailed(id: string, reason: string): Promise<boolean> {
    return this.update("UPDATE broadcasts SET state = 'failed', error_json = ? WHERE id = ? AND state = 'pending'", [JSON.stringify({ error: reason }), id]);
  }

  /**
   * The broadcasts an answer of `deviceId` at `at` may belong to, oldest first: named `command`,
   * published or being published, not expired, and not yet answered by that device (each device
   * answers a broadcast once). The caller compares the echoed fields. Creation time is not
   * compared with `at`: the sender's clock (a CLI elsewhere) need not agree with the receiver's.
   */
  openFor(deviceId: string, command: string, at: number): Promise<BroadcastRecord[]> {
    return this.db.read(async (sql) =>
      (
        await sql.rows(
          `SELECT ${COLUMNS}, ${COUNTS} FROM broadcasts b
           WHERE LOWER(b.command) = ? AND b.state IN ('pending', 'sent') AND b.expires_at > ?
             AND NOT EXISTS (SELECT 1 FROM broadcast_answers a WHERE a.broadcast_id = b.id AND a.device_id = ?)
           ORDER BY b.created_at, b.id LIMIT 100`,
          [command.toLowerCase(), at, deviceId],
        )
      ).map(toBroadcast),
    );
  }

  /** Records one device's answer. @returns false when that device has answered it already. */
  recordAnswer(broadcastId: string, deviceId: string, ok: boolean | null, response: unknown, at: number = this.clock.now()): Promise<boolean> {
    return this.db.transaction(
      async (sql) =>
        (await this.db.insertSkippingDuplicates(sql, 'broadcast_answers', ['broadcast_id', 'device_id', 'answered_at', 'ok', 'response_json'], [[broadcastId, deviceId, at, ok, JSON.stringify(response ?? null)]], ['broadcast_id', 'device_id'])) > 0,
    );
  }

  get(id: string): Promise<BroadcastRecord | undefined> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows(`SELECT ${COLUMNS}, ${COUNTS} FROM broadcasts b WHERE b.id = ?`, [id]);
      return rows[0] === undefined ? undefined : toBroadcast(rows[0]);
    });
  }

  /** Every answer to a broadcast, by device id. */
  answers(id: string): Promise<BroadcastAnswer[]> {
    return this.db.read((sql) => answersOf(sql, id));
  }

  /**
   * A broadcast with its answers. The counts are taken from the same answer rows, so they agree
   * with the list even while devices are answering (two separate reads could each see another
   * moment).
   */
  detail(id: string): Promise<{ broadcast: BroadcastRecord; answers: BroadcastAnswer[] } | undefined> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows(`SELECT ${COLUMNS}, ${COUNTS} FROM broadcasts b WHERE b.id = ?`, [id]);
      if (rows[0] === undefined) return undefined;
      const answers = await answersOf(sql, id);
      const ok = answers.filter((a) => a.ok === true).length;
      const failed = answers.filter((a) => a.ok === false).length;
      const broadcast = { ...toBroadcast(rows[0]), answers: { total: answers.length, ok, failed, notReported: answers.length - ok - failed } };
      return { broadcast, answers };
    });
  }

  /** The broadcasts one device answered, newest first, each with its answer. */
  async answeredBy(deviceId: string, limit = 50): Promise<{ broadcast: BroadcastRecord; answer: BroadcastAnswer }[]> {
    const rowLimit = Math.max(1, Math.min(Math.floor(limit), 1000));
    return this.db.read(async (sql) =>
      (
        await sql.rows(
          `SELECT ${COLUMNS}, ${COUNTS}, d.answered_at, d.ok, d.response_json FROM broadcasts b JOIN broadcast_answers d ON d.broadcast_id = b.id
           WHERE d.device_id = ? ORDER BY b.created_at DESC, b.id DESC LIMIT ?`,
          [deviceId, rowLimit],
        )
      ).map((r) => ({ broadcast: toBroadcast(r), answer: { deviceId, answeredAt: num(r.answered_at), ok: boolOrNull(r.ok), response: jsonOrNull(r.response_json) } })),
    );
  }

  /** Broadcasts, newest first. */
  list(limit = 50): Promise<BroadcastRecord[]> {
    const rowLimit = Math.max(1, Math.min(Math.floor(limit), 1000));
    return this.db.read(async (sql) => (await sql.rows(`SELECT ${COLUMNS}, ${COUNTS} FROM broadcasts b ORDER BY b.created_at DESC, b.id DESC LIMIT ?`, [rowLimit])).map(toBroadcast));
  }

  private update(statement: string, params: readonly unknown[]): Promise<boolean> {
    return this.db.transaction(async (sql) => (await sql.execute(statement, params)).affected > 0);
  }
}

async function answersOf(sql: Sql, id: string): Promise<BroadcastAnswer[]> {
  return (await sql.rows('SELECT device_id, answered_at, ok, response_json FROM broadcast_answers WHERE broadcast_id = ? ORDER BY device_id', [id])).map((r) => ({
    deviceId: String(r.device_id),
    answeredAt: num(r.answered_at),
    ok: boolOrNull(r.ok),
    response: jsonOrNull(r.response_json),
  }));
}

function toBroadcast(r: Row): BroadcastRecord {
  const total = num(r.total);
  const ok = num(r.ok_count);
  const failed = num(r.failed_count);
  return {
    id: String(r.id),
    command: String(r.command),
    args: JSON.parse(String(r.args_json)) as Record<string, unknown>,
    state: String(r.state) as BroadcastState,
    createdAt: num(r.created_at),
    sentAt: numOrNull(r.sent_at),
    expiresAt: num(r.expires_at),
    createdBy: strOrNull(r.created_by),
    error: jsonOrNull(r.error_json),
    answers: { total, ok, failed, notReported: total - ok - failed },
  };
}
