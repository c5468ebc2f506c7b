import type { DataSource, QueryRunner } from 'typeorm';
import type { DatabaseKind } from './entities.ts';

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
  const candidates = [error, (error as { driverError?: unknown } | null)?.driverError];
  return candidates.some((e) => {
    if (e === null || typeof e !== 'object') return false;
    const { code, fatal, message } = e as { code?: unknown; fatal?: unknown; message?: unknown };
    if (fatal === true) return true;
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
    return typeof message === 'string' && /closed state|Pool is closed|Connection lost/i.test(message);
  });
}

const CONNECTION_ERROR_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
]);

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
   * Runs `work` in one transaction and commits; rolls back and rethrows on any error. A
   * connection error before the transaction started (a pooled connection the server dropped
   * while it restarted) is retried once on a fresh connection: nothing was sent yet, so the retry
   * cannot apply anything twice.
   */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        const runner = this.dataSource.createQueryRunner();
        let started = false;
        try {
          await runner.startTransaction();
          started = true;
          const result = await work(sqlOn(runner));
          await runner.commitTransaction();
          return result;
        } catch (error) {
          if (started) await runner.rollbackTransaction().catch(() => {});
          if (!started && attempt === 1 && isConnectionError(error)) continue;
          throw error;
        } finally {
          await runner.release();
        }
      }
    });
  }

  /** Runs read-only `work` on one connection; retried once after a connection error (reads repeat safely). */
  read<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        const runner = this.dataSource.createQueryRunner();
        try {
          return await work(sqlOn(runner));
        } catch (error) {
          if (attempt === 1 && isConnectionError(error)) continue;
          throw error;
        } finally {
          await runner.release();
        }
      }
    });
  }

  /**
   * `INSERT … VALUES (…), (…)` where a row whose unique key exists already is skipped, and only
   * that: MariaDB's `ON DUPLICATE KEY UPDATE k = k` (never INSERT IGNORE, which also turns
   * truncation and NULL-into-NOT-NULL into warnings), SQLite's `ON CONFLICT (…) DO NOTHING`.
   * With the connection flag FOUND_ROWS off, MariaDB counts such an untouched row as 0 affected.
   */
  insertSkippingDuplicates(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], uniqueKey: readonly string[]): { sql: string; params: unknown[] } {
    const placeholders = `(${columns.map(() => '?').join(', ')})`;
    const values = rows.map(() => placeholders).join(', ');
    const noop = this.kind === 'mariadb' ? `ON DUPLICATE KEY UPDATE ${uniqueKey[0]} = ${uniqueKey[0]}` : `ON CONFLICT (${uniqueKey.join(', ')}) DO NOTHING`;
    return { sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values} ${noop}`, params: rows.flat() };
  }

  /**
   * `INSERT … ON DUPLICATE KEY UPDATE` / `ON CONFLICT (key) DO UPDATE SET`. `assignments` are
   * written with {@link inserted} for the value the INSERT would have stored.
   */
  upsert(table: string, columns: readonly string[], row: readonly unknown[], uniqueKey: readonly string[], assignments: readonly string[]): { sql: string; params: unknown[] } {
    const insert = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    const update = this.kind === 'mariadb' ? 'ON DUPLICATE KEY UPDATE' : `ON CONFLICT (${uniqueKey.join(', ')}) DO UPDATE SET`;
    return { sql: `${insert} ${update} ${assignments.join(', ')}`, params: [...row] };
  }

  /** In an upsert's assignments: the value the INSERT carried for `column`. */
  inserted(column: string): string {
    return this.kind === 'mariadb' ? `VALUES(${column})` : `excluded.${column}`;
  }

  /** The larger of two SQL expressions (GREATEST on MariaDB, the two-argument MAX on SQLite). */
  greatest(a: string, b: string): string {
    return this.kind === 'mariadb' ? `GREATEST(${a}, ${b})` : `MAX(${a}, ${b})`;
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

/** Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end);
}
