import * as mysql2 from 'mysql2';
import type { Pool, PoolConnection, PoolOptions } from 'mysql2';

/**
 * Strict mode makes truncation, NULL into NOT NULL and bad values errors; without it MariaDB stores
 * coerced data and only warns (for multi-row INSERTs even NULL into NOT NULL is only a warning).
 * Set per session so a server configured otherwise cannot weaken it.
 */
export const SESSION_SQL_MODE = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION';

/** The mysql2 error codes of a query that ran past its timeout. */
const QUERY_TIMEOUT_CODE = 'PROTOCOL_SEQUENCE_TIMEOUT';

/**
 * The mysql2 module as TypeORM's `driver` option, with two things added to every pooled
 * connection the moment it is made:
 *
 * - its session settings (strict sql_mode, a lock wait shorter than the query timeout);
 * - a query that times out destroys its connection. mysql2 fails the timed-out query but leaves it
 *   in the connection's command queue, and starts the next query's timer only when that query
 *   starts, so the next statement on that connection (TypeORM's ROLLBACK, or the next caller's
 *   query after the connection went back to the pool) would wait forever on a frozen server.
 *   Destroyed, the connection leaves the pool and later statements on it fail at once.
 */
export function mysqlDriverWithSessionSetup(lockWaitSeconds: number): typeof mysql2 {
  const setup = `SET SESSION sql_mode = '${SESSION_SQL_MODE}', SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.floor(lockWaitSeconds))}`;
  const createPool = (options: PoolOptions): Pool => {
    const pool = mysql2.createPool(options);
    pool.on('connection', (connection) => {
      // Queued before any caller's statement; an error here surfaces again on the caller's query.
      connection.query(setup, () => {});
      destroyOnQueryTimeout(connection);
    });
    return pool;
  };
  return { ...mysql2, createPool } as typeof mysql2;
}

type QueryCallback = (error: (Error & { code?: string }) | null, ...rest: unknown[]) => void;

function destroyOnQueryTimeout(connection: PoolConnection): void {
  const query = connection.query.bind(connection) as (...args: unknown[]) => unknown;
  const patched = (...args: unknown[]): unknown => {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = ((error, ...rest) => {
        if (error?.code === QUERY_TIMEOUT_CODE) {
          connection.destroy();
          // end() would wait for the frozen peer; drop the socket now.
          (connection as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
        }
        (callback as QueryCallback)(error, ...rest);
      }) satisfies QueryCallback;
    }
    return query(...args);
  };
  (connection as unknown as { query: typeof patched }).query = patched;
}
