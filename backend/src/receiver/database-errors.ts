import { isConnectionError } from '../db/index.ts';

/**
 * Which failures say "the database cannot take work now" (close the gate: nothing is
 * acknowledged, devices keep their readings and send them again) rather than "this message
 * cannot be stored" (reject it, record why, go on with everyone else). Getting this wrong either
 * way is costly: an outage taken for bad data rejects, and so loses, good readings; bad data taken
 * for an outage lets one message stop ingestion for every device. So only errors that are about
 * the server's state count as outages, recognised by the drivers' own codes:
 *
 * **mysql2 (MariaDB).** `fatal: true` (the connection died), the socket's errno codes, mysql2's
 * own client errors (connection lost, query timeout, a closed or exhausted pool) and the server
 * errors listed in {@link MYSQL_UNAVAILABLE}: shutdown, killed connection, too many connections,
 * lock wait timeout and deadlock (after SqlAccess's retries), interrupted or timed-out statement,
 * out of memory or disk, read-only server, lost privileges, and a schema that is not there (the
 * same statement fails for every message until an operator fixes it). Data errors (SQLSTATE
 * class 22, "data exception", and 23, "integrity constraint", e.g. ER_DATA_TOO_LONG,
 * ER_WARN_DATA_OUT_OF_RANGE, ER_BAD_NULL_ERROR) are the message's.
 *
 * **better-sqlite3 (SQLite).** The primary result codes in {@link SQLITE_UNAVAILABLE} (busy or
 * locked past the busy timeout, I/O error, disk full, cannot open, read-only, out of memory,
 * corrupt, not a database), a closed handle ("The database connection is not open"), and a
 * missing table or column. SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_TOOBIG and SQLITE_RANGE
 * are the message's.
 *
 * Anything not recognised here is not taken for an outage on its word: the gate then asks the
 * database (DatabaseGate's probe), and only a failing probe closes it.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  return causes(error).some((e) => {
    const { code, message } = e as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : '';
    if (typeof code === 'string') {
      if (MYSQL_UNAVAILABLE.has(code) || SOCKET_ERRORS.has(code)) return true;
      const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0];
      if (primary !== undefined && SQLITE_UNAVAILABLE.has(primary)) return true;
      if (primary === 'SQLITE_ERROR' && SQLITE_MISSING_SCHEMA.test(text)) return true;
    }
    return MYSQL2_CLIENT_MESSAGES.some((m) => text.startsWith(m)) || text === SQLITE_CLOSED;
  });
}

/** Server errors about the server's state (MariaDB error codes as mysql2 names them). */
const MYSQL_UNAVAILABLE = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_USER_LIMIT_REACHED',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_QUERY_INTERRUPTED',
  'ER_STATEMENT_TIMEOUT',
  'ER_OUT_OF_RESOURCES',
  'ER_OUTOFMEMORY',
  'ER_DISK_FULL',
  'ER_RECORD_FILE_FULL',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_READ_ONLY_MODE',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_NO_SUCH_TABLE',
  'ER_BAD_FIELD_ERROR',
  'ER_CRASHED_ON_USAGE',
  'ER_CANT_LOCK',
  'ER_NET_READ_ERROR',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
  'ER_NET_WRITE_INTERRUPTED',
]);

/** Socket errors on the way to the server (connect, DNS, reset). */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** mysql2's pool errors, which carry no code. */
const MYSQL2_CLIENT_MESSAGES = ['Pool is closed', 'No connections available', 'Queue limit reached'];

/** SQLite primary result codes about the database file or the engine, never about one statement's data. */
const SQLITE_UNAVAILABLE = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_NOMEM',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_PROTOCOL',
  'SQLITE_INTERRUPT',
  'SQLITE_PERM',
  'SQLITE_AUTH',
  'SQLITE_NOLFS',
]);

const SQLITE_MISSING_SCHEMA = /^(no such table|no such column|table \S+ has no column named)/;

/** better-sqlite3's TypeError on a closed handle. */
const SQLITE_CLOSED = 'The database connection is not open';

/** The error and what TypeORM wrapped (QueryFailedError.driverError). */
function causes(error: unknown): object[] {
  const driverError = (error as { driverError?: unknown } | null)?.driverError;
  return [error, driverError].filter((e): e is object => e !== null && typeof e === 'object');
}
