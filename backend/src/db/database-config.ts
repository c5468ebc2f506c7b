import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '@iot/common/config';

/** Where the embedded default keeps its data when `DATABASE_URL` is unset (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = './data/iot.sqlite';

/** Limits that keep a dead or frozen server from hanging a caller forever. */
export interface DatabaseTimeouts {
  /** Handshake of a new connection (mysql2 `connectTimeout`). */
  connectTimeoutMs: number;
  /** One statement; a statement past it fails and its connection is discarded. */
  queryTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = { connectTimeoutMs: 5_000, queryTimeoutMs: 5_000 };

export interface MariaDbConfig extends DatabaseTimeouts {
  kind: 'mariadb';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Connections in the pool. Small: the receiver's writes are short transactions. */
  poolSize: number;
}

export interface SqliteConfig {
  kind: 'sqlite';
  /** Absolute path of the database file, or `:memory:`. */
  path: string;
}

export type DatabaseConfig = MariaDbConfig | SqliteConfig;

const SERVICE = 'database';
const URL_HELP = 'use mariadb://user:pass@host:port/db, mysql://…, sqlite:/absolute/path.sqlite or sqlite::memory:';

/**
 * Parses `DATABASE_URL`. `mariadb://` and `mysql://` (user:pass@host:port/db) select MariaDB via
 * mysql2; `sqlite:/absolute/path.sqlite` and `sqlite::memory:` select SQLite via better-sqlite3;
 * unset or blank selects the embedded default, a SQLite file at {@link DEFAULT_SQLITE_PATH}.
 * @throws ConfigError naming DATABASE_URL and what is wrong (the password is never echoed).
 */
export function parseDatabaseUrl(url: string | undefined, cwd: string = process.cwd()): DatabaseConfig {
  const text = url?.trim() ?? '';
  if (text === '') return { kind: 'sqlite', path: resolve(cwd, DEFAULT_SQLITE_PATH) };
  if (text.startsWith('sqlite:')) return parseSqlite(text.slice('sqlite:'.length));
  if (/^(mariadb|mysql):\/\//i.test(text)) return parseMariaDb(text);
  throw problem(`unsupported scheme; ${URL_HELP}`, redact(text));
}

/** {@link parseDatabaseUrl} on `env.DATABASE_URL`. */
export function databaseConfigFromEnv(env: Record<string, string | undefined>, cwd?: string): DatabaseConfig {
  return parseDatabaseUrl(env.DATABASE_URL, cwd);
}

function parseSqlite(rest: string): SqliteConfig {
  if (rest === ':memory:') return { kind: 'sqlite', path: ':memory:' };
  // Accept the file-URL-like spelling sqlite:///abs/path too.
  const path = rest.startsWith('///') ? rest.slice(2) : rest;
  if (path === '' || !isAbsolute(path)) throw problem(`SQLite needs an absolute path; ${URL_HELP}`, `sqlite:${rest}`);
  return { kind: 'sqlite', path };
}

function parseMariaDb(text: string): MariaDbConfig {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw problem(`not a valid URL; ${URL_HELP}`, redact(text));
  }
  const problems: string[] = [];
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.hostname === '') problems.push('host is missing');
  if (url.username === '') problems.push('user is missing');
  if (database === '' || database.includes('/')) problems.push('database name is missing (…/<database>)');
  const port = url.port === '' ? 3306 : Number(url.port);
  if (problems.length > 0) throw problem(problems.join(', '), redact(text));
  return {
    kind: 'mariadb',
    host: url.hostname,
    port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    poolSize: 5,
    ...DEFAULT_TIMEOUTS,
  };
}

function problem(message: string, given: string): ConfigError {
  return new ConfigError(SERVICE, [`DATABASE_URL: ${message} (got ${JSON.stringify(given)})`]);
}

/** Error messages end up in logs: never repeat a password. */
function redact(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** A description for logs: where the data goes, without credentials. */
export function describeDatabase(config: DatabaseConfig): string {
  return config.kind === 'sqlite' ? `sqlite:${config.path}` : `mariadb://${config.user}@${config.host}:${config.port}/${config.database}`;
}
