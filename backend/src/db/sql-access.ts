import type { DataSource, QueryRunner } from 'typeorm';
import type { DatabaseKind } from './entities.ts';

/** Rows per multi-row INSERT on MariaDB: one statement per batch up to this size. */
export const INSERT_CHUNK_ROWS = 1000;

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** Statements on one connection (inside a transaction when given by {@link SqlAccess.transaction}). */
export interface Sql {
  /** A statement that returns rows. */
  rows<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** A statement that changes rows; `affected` counts rows really inserted or changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<{ affected: number; insertId: number | undefined }>;
}

/**
 * Connection errors: the server is gone, restarting or frozen. Callers treat them as "database
 * unavailable, try again later" (the receiver then does not acknowledge), not as bad data.
 */
export function isConnectionError(error: unknown): boolean {
  return causes(error).some((e) => {
    const { code, fatal } = e as { code?: unknown; fatal?: unknown };
    return fatal === true || (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) || isStale(e);
  });
}

/**
 * A pooled connection the server closed while idle (it restarted): the statement never reached
 * a server, so running it again on a fresh connection is safe. Timeouts and refused connections
 * are not stale connections: retrying them only doubles the wait.
 */
function isStaleConnectionError(error: unknown): boolean {
  return causes(error).some(isStale);
}

function isStale(e: object): boolean {
  const { code, message } = e as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && STALE_CODES.has(code)) return true;
  return typeof message === 'string' && /closed state|Connection lost/i.test(message);
}

function causes(error: unknown): object[] {
  const driverError = (error as { driverError?: unknown } | null)?.driverError;
  return [error, driverError].filter((e): e is object => e !== null && typeof e === 'object');
}

function isDeadlock(error: unknown): boolean {
  return causes(error).some((e) => (e as { code?: unknown }).code === 'ER_LOCK_DEADLOCK');
}

const STALE_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED']);
const CONNECTION_ERROR_CODES = new Set([...STALE_CODES, 'PROTOCOL_SEQUENCE_TIMEOUT', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * How the stores reach the database: one connection per unit of work, the dialect's few
 * differences in one place, and recovery after the server restarts.
 *
 * SQLite (better-sqlite3) has a single connection that TypeORM shares between all query
 * runners, so units of work are serialised here: otherwise two concurrent transactions would
 * interleave on it. MariaDB units run in parallel on the pool.
 */
export class SqlAccess {
  readonly kind: DatabaseKind;
  private readonly dataSource: DataSource;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(dataSource: DataSource, kind: DatabaseKind) {
    this.dataSource = dataSource;
    this.kind = kind;
  }

  /**
   * Runs `work` in one transaction and commits; rolls back and rethrows on any error. A stale
   * connection before the transaction started (a pooled connection the server dropped while it
   * restarted) is retried once on a fresh one: nothing of `work` was sent, so nothing can apply twice.
   * A deadlock (MariaDB rolled the transaction back) is retried up to twice.
   *
   * On SQLite every transaction here writes, so it begins as a writer (BEGIN IMMEDIATE): a
   * deferred one that reads first holds a snapshot, and if another process (the receiver, the web
   * admin) commits before its first write, SQLite cannot upgrade it and fails at once with
   * SQLITE_BUSY, busy timeout or not. Taking the write lock at BEGIN waits in the busy timeout
   * instead, and then nothing can come between the transaction's reads and its writes.
   */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        const runner = this.dataSource.createQueryRunner();
        let started = false;
        try {
          await this.begin(runner);
          started = true;
          const result = await work(sqlOn(runner));
          await this.commit(runner);
          return result;
        } catch (error) {
          if (started) await this.rollback(runner).catch(() => {});
          if (!started && attempt === 1 && isStaleConnectionError(error)) continue;
          // InnoDB rolled the whole transaction back: running it again is a clean retry.
          if (isDeadlock(error) && attempt < 3) continue;
          throw error;
        } finally {
          await runner.release();
        }
      }
    });
  }

  /** Runs read-only `work` on one connection; retried once on a stale pooled connection (reads repeat safely). */
  read<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        const runner = this.dataSource.createQueryRunner();
        try {
          return await work(sqlOn(runner));
        } catch (error) {
          if (attempt === 1 && isStaleConnectionError(error)) continue;
          throw error;
        } finally {
          await runner.release();
        }
      }
    });
  }

  /**
   * Inserts `rows`, skipping a row whose unique key exists already, and only that: MariaDB's
   * `ON DUPLICATE KEY UPDATE k = k` (never INSERT IGNORE, which also turns truncation and
   * NULL-into-NOT-NULL into warnings), SQLite's `ON CONFLICT (…) DO NOTHING`.
   * @returns how many rows were inserted.
   *
   * MariaDB gets one multi-row statement per {@link INSERT_CHUNK_ROWS} rows (one round trip);
   * with the connection flag FOUND_ROWS off it counts an untouched duplicate as 0 affected rows.
   * SQLite runs in-process, so one prepared single-row statement executed per row costs no round
   * trips, and its constant text keeps the statement cache small (see sqlite-driver.ts).
   */
  async insertSkippingDuplicates(sql: Sql, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], uniqueKey: readonly string[]): Promise<number> {
    const placeholders = `(${columns.map(() => '?').join(', ')})`;
    const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES`;
    let inserted = 0;
    if (this.kind === 'sqlite') {
      const statement = `${head} ${placeholders} ON CONFLICT (${uniqueKey.join(', ')}) DO NOTHING`;
      for (const row of rows) inserted += (await sql.execute(statement, row)).affected;
      return inserted;
    }
    for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
      const chunk = rows.slice(start, start + INSERT_CHUNK_ROWS);
      const statement = `${head} ${chunk.map(() => placeholders).join(', ')} ON DUPLICATE KEY UPDATE ${uniqueKey[0]} = ${uniqueKey[0]}`;
      inserted += (await sql.execute(statement, chunk.flat())).affected;
    }
    return inserted;
  }

  /**
   * `column IN (…)` for a list of values: placeholders on MariaDB (at most
   * {@link INSERT_CHUNK_ROWS} values per call), one JSON parameter on SQLite so the statement
   * text does not depend on the list's length.
   */
  inList(column: string, values: readonly (string | number)[]): { clause: string; params: unknown[] } {
    if (this.kind === 'sqlite') return { clause: `${column} IN (SELECT value FROM json_each(?))`, params: [JSON.stringify(values)] };
    return { clause: `${column} IN (${values.map(() => '?').join(', ')})`, params: [...values] };
  }

  /**
   * `INSERT … ON DUPLICATE KEY UPDATE` / `ON CONFLICT (key) DO UPDATE SET`. `assignments` are
   * written with {@link inserted} for the value the INSERT would have stored.
   */
  upsert(table: string, columns: readonly string[], row: readonly unknown[], uniqueKey: readonly string[], assignments: readonly string[]): { sql: string; params: unknown[] } {
    return this.upsertRows(table, columns, [row], uniqueKey, assignments);
  }

  /** {@link upsert} of several rows in one statement (one round trip); each row is upserted on its own. */
  upsertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], uniqueKey: readonly string[], assignments: readonly string[]): { sql: string; params: unknown[] } {
    const placeholders = `(${columns.map(() => '?').join(', ')})`;
    const insert = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${rows.map(() => placeholders).join(', ')}`;
    const update = this.kind === 'mariadb' ? 'ON DUPLICATE KEY UPDATE' : `ON CONFLICT (${uniqueKey.join(', ')}) DO UPDATE SET`;
    return { sql: `${insert} ${update} ${assignments.join(', ')}`, params: rows.flat() };
  }

  /** In an upsert's assignments: the value the INSERT carried for `column`. */
  inserted(column: string): string {
    return this.kind === 'mariadb' ? `VALUES(${column})` : `excluded.${column}`;
  }

  /** The larger of two SQL expressions (GREATEST on MariaDB, the two-argument MAX on SQLite). */
  greatest(a: string, b: string): string {
    return this.kind === 'mariadb' ? `GREATEST(${a}, ${b})` : `MAX(${a}, ${b})`;
  }

  private async begin(runner: QueryRunner): Promise<void> {
    if (this.kind === 'sqlite') await runner.query('BEGIN IMMEDIATE');
    else await runner.startTransaction();
  }

  private async commit(runner: QueryRunner): Promise<void> {
    if (this.kind === 'sqlite') await runner.query('COMMIT');
    else await runner.commitTransaction();
  }

  private async rollback(runner: QueryRunner): Promise<void> {
    if (this.kind === 'sqlite') await runner.query('ROLLBACK');
    else await runner.rollbackTransaction();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.kind !== 'sqlite') return work();
    const result = this.serial.then(work, work);
    this.serial = result.catch(() => {});
    return result;
  }
}

function sqlOn(runner: QueryRunner): Sql {
  return {
    async rows<T extends Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      const result = await runner.query(sql, [...params], true);
      return (result.records ?? []) as T[];
    },
    async execute(sql: string, params: readonly unknown[] = []) {
      const result = await runner.query(sql, [...params], true);
      const raw = result.raw as unknown;
      // mysql2 returns a ResultSetHeader, better-sqlite3 the last row id.
      const insertId = typeof raw === 'object' && raw !== null && 'insertId' in raw ? Number(raw.insertId) : typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : undefined;
      return { affected: result.affected ?? 0, insertId };
    },
  };
}

/** A BIGINT/INT column as a number (mysql2 gives strings only past 2^53, which epoch ms never reach). */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

/** A BOOLEAN column (TINYINT on MariaDB, INTEGER on SQLite) as a boolean. */
export function boolOrNull(value: unknown): boolean | null {
  return value === null || value === undefined ? null : Boolean(num(value));
}

export function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

export function jsonOrNull<T = unknown>(value: unknown): T | null {
  return value === null || value === undefined ? null : (JSON.parse(String(value)) as T);
}

/**
 * A JSON object column (a reading's values) for reading paths: whatever is stored — not JSON, an
 * array, a number — reads as an object, an empty one when it is none, so one bad row cannot fail
 * a page or an export.
 */
export function jsonObject(value: unknown): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(String(value));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end);
}
