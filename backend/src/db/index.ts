export { ChangeStore } from './change-store.ts';
export { type CommandRecord, type CommandState, CommandStore, type NewCommand } from './command-store.ts';
export { type ConfigKeyError, ConfigStore, type DesiredConfigRecord, type ReportedConfigRecord } from './config-store.ts';
export { type Database, type OpenDatabaseOptions, openDatabase } from './data-source.ts';
export {
  type DatabaseConfig,
  type DatabaseTimeouts,
  DEFAULT_SQLITE_PATH,
  DEFAULT_TIMEOUTS,
  databaseConfigFromEnv,
  describeDatabase,
  type MariaDbConfig,
  parseDatabaseUrl,
  type SqliteConfig,
} from './database-config.ts';
export { type DeviceRecord, DeviceStore } from './device-store.ts';
export * from './entities.ts';
export { type BootGaps, type BootSummary, type BootWrite, DEFAULT_GAP_RANGES, type DeviceIntegrity, IntegrityStore } from './integrity-store.ts';
export { type LeaseAttempt, LeaseLostError, type LeaseState, LeaseStore } from './lease-store.ts';
export { MIGRATIONS } from './migrations/index.ts';
export { SESSION_SQL_MODE } from './mysql-driver.ts';
export {
  type DeviceProtocol,
  type NewReading,
  type ReadingConflict,
  type ReadingRow,
  ReadingStore,
  type ReadingsCursor,
  type ReadingsMeta,
  type ShutdownMarker,
  type ShutdownOutcome,
  type StoredReading,
  type StoreResult,
} from './reading-store.ts';
export {
  HOUR_MS,
  MAX_MINUTE_SPAN_MS,
  MAX_RAW_POINTS,
  MINUTE_MS,
  REFRESH_CHUNK,
  type RefreshFence,
  type RefreshResult,
  ROLLUP_LEASE,
  type RollupProgress,
  RollupStore,
  type Series,
  type SeriesPoint,
  type SeriesResolution,
} from './rollup-store.ts';
export { type NewRejection, PAYLOAD_EXCERPT_BYTES, type RejectionRecord, RejectionStore } from './rejection-store.ts';
export { tokenHash, USER_ROLES, USERNAME_PATTERN, type UserRecord, type UserRole, UserStore } from './user-store.ts';
export { INSERT_CHUNK_ROWS, isConnectionError, type Row, type Sql, SqlAccess } from './sql-access.ts';
