import type { Clock } from '@iot/common/clock';
import { BroadcastStore } from './broadcast-store.ts';
import { boolOrNull, jsonOrNull, num, numOrNull, type Row, type SqlAccess } from './sql-access.ts';

/**
 * pending → delivered (published to the device) → answered (a response came; `ok` tells how it
 * went) or expired (no answer before `expires_at`); failed when it could not be delivered.
 */
export type CommandState = 'pending' | 'delivered' | 'answered' | 'expired' | 'failed';

export interface NewCommand {
  id: string;
  deviceId: string;
  /** Command name as sent, e.g. `reboot`. */
  command: string;
  /** The command's other fields (key, value, seconds, …). */
  args: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
}

export interface CommandRecord extends NewCommand {
  state: CommandState;
  deliveredAt: number | null;
  answeredAt: number | null;
  /**
   * How it went, once answered: true/false as the device said; null when the answer was received
   * but the device's software reports no outcome (the original's reboot, docs/original-devices.md §3).
   */
  ok: boolean | null;
  response: unknown;
}

/** Unanswered commands an answer without an id is compared with, at most (oldest first). */
const MATCH_CANDIDATES = 200;

const COMMAND_COLUMNS = 'id, device_id, command, args_json, state, created_at, delivered_at, expires_at, answered_at, ok, response_json';

/** One-off commands to devices (docs/configuration-twin.md §8): ids, responses, expiry. */
export class CommandStore {
  private readonly db: SqlAccess;
  private readonly clock: Clock;
  /** Commands to every device at once, and their answers. */
  readonly broadcasts: BroadcastStore;

  constructor(db: SqlAccess, clock: Clock) {
    this.db = db;
    this.clock = clock;
    this.broadcasts = new BroadcastStore(db, clock);
  }

  /** Stores a new command in state `pending`. Fails on an id that exists. */
  create(command: NewCommand): Promise<void> {
    return this.db.transaction(async (sql) => {
      await sql.execute(
        'INSERT INTO commands (id, device_id, command, args_json, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [command.id, command.deviceId, command.command, JSON.stringify(command.args), 'pending' satisfies CommandState, command.createdAt, command.expiresAt],
      );
    });
  }

  /** pending → delivered. @returns false when the command is unknown or not pending. */
  markDelivered(id: string, at: number = this.clock.now()): Promise<boolean> {
    return this.update("UPDATE commands SET state = 'delivered', delivered_at = ? WHERE id = ? AND state = 'pending'", [at, id]);
  }

  /**
   * Records the device's answer. A late answer to an expired command is still recorded: the
   * device did act on it. @returns false when the command is unknown or already answered/failed.
   */
  markAnswered(id: string, ok: boolean | null, response: unknown, at: number = this.clock.now()): Promise<boolean> {
    return this.update(
      "UPDATE commands SET state = 'answered', ok = ?, response_json = ?, answered_at = ? WHERE id = ? AND state IN ('pending', 'delivered', 'expired')",
      [ok, JSON.stringify(response ?? null), at, id],
    );
  }

  /** pending/delivered → failed (e.g. it could not be published), with why as the response. */
  markFailed(id: string, reason: string, at: number = this.clock.now()): Promise<boolean> {
    return this.update(
      "UPDATE commands SET state = 'failed', ok = ?, response_json = ?, answered_at = ? WHERE id = ? AND state IN ('pending', 'delivered')",
      [false, JSON.stringify({ error: reason }), at, id],
    );
  }

  /**
   * The command an answer without an id belongs to (docs/original-devices.md §3): the oldest
   * unanswered (pending or delivered) command of that device with that name (case-insensitive, as
   * the original) that `matches` accepts — the caller compares what the answer echoes
   * (control/answer-matching.ts). Expired commands are not candidates: a late answer would
   * otherwise be taken from the command it belongs to.
   */
  async findPendingForOriginal(deviceId: string, commandName: string, matches: (command: CommandRecord) => boolean = () => true): Promise<CommandRecord | undefined> {
    return (await this.unanswered(deviceId, commandName)).find(matches);
  }

  private unanswered(deviceId: string, commandName: string): Promise<CommandRecord[]> {
    return this.db.read(async (sql) =>
      (
        await sql.rows(
          `SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = ? AND LOWER(command) = ? AND state IN ('pending', 'delivered')
           ORDER BY created_at, id LIMIT ?`,
          [deviceId, commandName.toLowerCase(), MATCH_CANDIDATES],
        )
      ).map(toCommand),
    );
  }

  /** Marks pending and delivered commands whose `expires_at` ≤ `now` as expired. @returns how many. */
  async expireDue(now: number = this.clock.now()): Promise<number> {
    return this.db.transaction(
      async (sql) => (await sql.execute("UPDATE commands SET state = 'expired' WHERE state IN ('pending', 'delivered') AND expires_at <= ?", [now])).affected,
    );
  }

  get(id: string): Promise<CommandRecord | undefined> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ?`, [id]);
      return rows[0] === undefined ? undefined : toCommand(rows[0]);
    });
  }

  /** A device's commands, newest first. */
  list(deviceId: string, limit = 50): Promise<CommandRecord[]> {
    const rowLimit = Math.max(1, Math.min(Math.floor(limit), 1000));
    return this.db.read(async (sql) =>
      (await sql.rows(`SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, [deviceId, rowLimit])).map(toCommand),
    );
  }

  private update(statement: string, params: readonly unknown[]): Promise<boolean> {
    return this.db.transaction(async (sql) => (await sql.execute(statement, params)).affected > 0);
  }
}

function toCommand(r: Row): CommandRecord {
  return {
    id: String(r.id),
    deviceId: String(r.device_id),
    command: String(r.command),
    args: JSON.parse(String(r.args_json)) as Record<string, unknown>,
    state: String(r.state) as CommandState,
    createdAt: num(r.created_at),
    deliveredAt: numOrNull(r.delivered_at),
    expiresAt: num(r.expires_at),
    answeredAt: numOrNull(r.answered_at),
    ok: boolOrNull(r.ok),
    response: jsonOrNull(r.response_json),
  };
}
