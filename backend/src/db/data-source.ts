import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Clock, systemClock } from '@iot/common/clock';
import { type Logger, silentLogger } from '@iot/common/log';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ChangeStore } from './change-store.ts';
import { CommandStore } from './command-store.ts';
import { ConfigStore } from './config-store.ts';
import type { DatabaseConfig, MariaDbConfig } from './database-config.ts';
import { DeviceStore } from './device-store.ts';
import { createEntitySchemas, type DatabaseKind } from './entities.ts';
import { IntegrityStore } from './integrity-store.ts';
import { LeaseStore } from './lease-store.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { mysqlDriverWithSessionSetup } from './mysql-driver.ts';
import { ReadingStore } from './reading-store.ts';
import { RollupStore } from './rollup-store.ts';
import { RejectionStore } from './rejection-store.ts';
import { SqlAccess } from './sql-access.ts';
import { retainingBetterSqlite3, SQLITE_STATEMENT_CACHE_SIZE } from './sqlite-driver.ts';
import { typeormLogger } from './typeorm-logger.ts';
import { UserStore } from './user-store.ts';

export interface OpenDatabaseOptions {
  /** Time for rows whose time the caller does not give; the OS clock by default. */
  clock?: Clock;
  logger?: Logger;
  /** Apply pending migrations while opening (default true). */
  migrate?: boolean;
}

/** An open database: the TypeORM DataSource and the stores built on it. */
export interface Database {
  readonly kind: DatabaseKind;
  /**
   * The TypeORM DataSource (repositories, query builder). On SQLite all work shares one
   * connection: run raw statements through {@link sql}, which serialises them with the stores'
   * transactions, rather than `dataSource.query` while stores may be writing.
   */
  readonly dataSource: DataSource;
  /** Units of work on one connection: `sql.read(work)`, `sql.transaction(work)`. */
  readonly sql: SqlAccess;
  readonly readings: ReadingStore;
  /** Downsampled readings for charts. */
  readonly rollups: RollupStore;
  /** Readings stored, duplicates absorbed and sequence gaps, from counters kept at write time. */
  readonly integrity: IntegrityStore;
  /** Named leases: which instance does work only one may do (the rollup refresh). */
  readonly leases: LeaseStore;
  /** Fingerprints for the web admin's change polling. */
  readonly changes: ChangeStore;
  readonly devices: DeviceStore;
  readonly commands: CommandStore;
  readonly configs: ConfigStore;
  readonly rejections: RejectionStore;
  /** Web admin users and API tokens. */
  readonly users: UserStore;
  /** A cheap query that fails when the database is unreachable. */
  ping(): Promise<void>;
  /** Applies pending migrations; @returns the names of those applied. */
  runMigrations(): Promise<string[]>;
  /** Closes the pool (MariaDB) or the file (SQLite). */
  close(): Promise<void>;
}

/** Name of the MariaDB advisory lock that keeps two starting services from migrating at once. */
const MIGRATION_LOCK = 'iot_schema_migrations';

/**
 * Opens the database and, unless told otherwise, brings its schema up to date with the
 * migrations (the schema is owned by migrations; `synchronize` is never used).
 * @throws on an unreachable server or a failed migration; the caller decides whether to retry.
 */
export async function openDatabase(config: DatabaseConfig, options: OpenDatabaseOptions = {}): Promise<Database> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger();
  const kind: DatabaseKind = config.kind;
  if (config.kind === 'sqlite') prepareSqliteFile(config.path, log);
  const dataSource = new DataSource(config.kind === 'mariadb' ? mariaDbOptions(config, log) : sqliteOptions(config.path, log));
  await dataSource.initialize();
  try {
    if (config.kind === 'mariadb') await assertUtf8mb4(dataSource, config.database);
    const access = new SqlAccess(dataSource, kind);
    const runMigrations = () => migrate(dataSource, kind);
    if (options.migrate !== false) await runMigrations();
    const leases = new LeaseStore(access);
    const rollups = new RollupStore(access, leases);
    const integrity = new IntegrityStore(access);
    const devices = new DeviceStore(access);
    return {
      kind,
      dataSource,
      sql: access,
      readings: new ReadingStore(access, clock, rollups, integrity),
      rollups,
      integrity,
      leases,
      changes: new ChangeStore(access, devices),
      devices,
      commands: new CommandStore(access, clock),
      configs: new ConfigStore(access, clock),
      rejections: new RejectionStore(access, clock),
      users: new UserStore(access, clock),
      ping: async () => {
        await access.read((sql) => sql.rows('SELECT 1 AS ok'));
      },
      runMigrations,
      close: () => dataSource.destroy(),
    };
  } catch (error) {
    await dataSource.destroy().catch(() => {});
    throw error;
  }
}

const common = (kind: DatabaseKind, log: Logger) => ({
  entities: createEntitySchemas(kind),
  migrations: MIGRATIONS,
  migrationsTransactionMode: 'each' as const,
  synchronize: false,
  migrationsRun: false,
  logging: ['warn', 'migration'] as ('warn' | 'migration')[],
  logger: typeormLogger(log),
});

function mariaDbOptions(config: MariaDbConfig, log: Logger): DataSourceOptions {
  return {
    type: 'mariadb',
    driver: mysqlDriverWithSessionSetup(config.queryTimeoutMs / 1000 - 1),
    host: config.host,
    port: config.port,
    username: config.user,
    password: config.password,
    database: config.database,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    // BIGINT (epoch ms, ids) as JS numbers: strings only past 2^53, which they never reach.
    // TypeORM's default (bigNumberStrings) would hand every time out as a string.
    supportBigNumbers: true,
    bigNumberStrings: false,
    // Without FOUND_ROWS, "affected rows" counts rows really changed, so ON DUPLICATE KEY
    // UPDATE k = k reports 0 for a duplicate it left alone (the stores count stored readings so).
    flags: ['-FOUND_ROWS'],
    poolSize: config.poolSize,
    connectTimeout: config.connectTimeoutMs,
    // mysql2 fails a statement that runs longer; see mysql-driver.ts for what happens to its connection.
    enableQueryTimeout: true,
    maxQueryExecutionTime: config.queryTimeoutMs,
    extra: { enableKeepAlive: true, keepAliveInitialDelay: 10_000 },
    ...common('mariadb', log),
  };
}

/**
 * How long a statement waits for another process's write lock (the receiver and the web admin
 * share the file) before SQLITE_BUSY. Write transactions begin as writers (SqlAccess), so this
 * wait covers them too; better-sqlite3 waits synchronously, and transactions are short.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Creates the database file with mode 0600 before SQLite opens it, and tightens an existing one
 * (and its -wal and -shm files, which SQLite creates with the file's mode): it holds password and
 * token hashes. A new directory is 0700. A file the process may not chmod is left as it is, with
 * a warning.
 */
function prepareSqliteFile(path: string, log: Logger): void {
  if (path === ':memory:') return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (!existsSync(file) || (statSync(file).mode & 0o077) === 0) continue;
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      log.warn({ event: 'sqlite_file_mode', file, err: error }, 'could not make the SQLite file private (mode 0600)');
    }
  }
}

function sqliteOptions(path: string, log: Logger): DataSourceOptions {
  return {
    type: 'better-sqlite3',
    driver: retainingBetterSqlite3(),
    statementCacheSize: SQLITE_STATEMENT_CACHE_SIZE,
    database: path,
    enableWAL: path !== ':memory:',
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      // A COMMIT must be on disk before the receiver acknowledges the batch (WAL defaults to NORMAL,
      // which can lose the last commits on a power cut).
      db.pragma('synchronous = FULL');
      // Set here too, not only through the driver option, so the wait cannot silently go missing.
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    },
    ...common('sqlite', log),
  };
}

async function migrate(dataSource: DataSource, kind: DatabaseKind): Promise<string[]> {
  if (kind === 'sqlite') return names(await dataSource.runMigrations({ transaction: 'each' }));
  // MariaDB: DDL commits implicitly, so two services migrating at once could both create a
  // table. An advisory lock held on one connection serialises them; waits are short slices so
  // no single statement outlasts the query timeout.
  const runner = dataSource.createQueryRunner();
  try {
    const deadline = Date.now() + 120_000;
    while ((await runner.query(`SELECT GET_LOCK('${MIGRATION_LOCK}', 2) AS got`))[0]?.got !== 1) {
      if (Date.now() > deadline) throw new Error(`could not get the migration lock ${MIGRATION_LOCK} within 120 s`);
    }
    try {
      return names(await dataSource.runMigrations({ transaction: 'each' }));
    } finally {
      await runner.query(`SELECT RELEASE_LOCK('${MIGRATION_LOCK}')`);
    }
  } finally {
    await runner.release();
  }
}

function names(migrations: readonly { name: string }[]): string[] {
  return migrations.map((m) => m.name);
}

/** Readings carry arbitrary text (device names, payload excerpts): a latin1 database would reject them. */
async function assertUtf8mb4(dataSource: DataSource, database: string): Promise<void> {
  const rows = (await dataSource.query('SELECT DEFAULT_CHARACTER_SET_NAME AS charset FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database])) as {
    charset?: string;
  }[];
  const charset = rows[0]?.charset;
  if (charset !== 'utf8mb4') {
    throw new Error(`database ${database} has default character set ${charset ?? 'unknown'}; create it with CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  }
}
