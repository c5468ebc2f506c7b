import type { Clock } from '@iot/common/clock';
import { num, type SqlAccess } from './sql-access.ts';

export interface DesiredConfigRecord {
  deviceId: string;
  /** Counts from 1, one up per change. */
  version: number;
  config: Record<string, string>;
  updatedAt: number;
}

export interface ConfigKeyError {
  key: string;
  code: string;
  message: string;
}

export interface ReportedConfigRecord {
  deviceId: string;
  /** The desired version the device applied last; 0 before any. */
  version: number;
  config: Record<string, string>;
  errors: ConfigKeyError[] | null;
  reportedAt: number;
}

/** The configuration twin (docs/configuration-twin.md §2, §4): the desired version per device and what the device reported. */
export class ConfigStore {
  private readonly db: SqlAccess;
  private readonly clock: Clock;

  constructor(db: SqlAccess, clock: Clock) {
    this.db = db;
    this.clock = clock;
  }

  /**
   * Replaces the desired configuration; its version becomes the previous one plus 1 (1 for the
   * first). The increment happens inside the upsert statement, so concurrent callers each get
   * their own version.
   */
  setDesired(deviceId: string, config: Record<string, string>, at: number = this.clock.now()): Promise<{ version: number }> {
    return this.db.transaction(async (sql) => {
      const upsert = this.db.upsert('desired_configs', ['device_id', 'version', 'config_json', 'updated_at'], [deviceId, 1, JSON.stringify(config), at], ['device_id'], [
        'version = version + 1',
        `config_json = ${this.db.inserted('config_json')}`,
        `updated_at = ${this.db.inserted('updated_at')}`,
      ]);
      await sql.execute(upsert.sql, upsert.params);
      // Our own uncommitted row: the upsert holds its lock until COMMIT.
      const rows = await sql.rows('SELECT version FROM desired_configs WHERE device_id = ?', [deviceId]);
      return { version: num(rows[0]?.version) };
    });
  }

  getDesired(deviceId: string): Promise<DesiredConfigRecord | undefined> {
    return this.db.read(async (sql) => {
      const row = (await sql.rows('SELECT version, config_json, updated_at FROM desired_configs WHERE device_id = ?', [deviceId]))[0];
      if (row === undefined) return undefined;
      return { deviceId, version: num(row.version), config: JSON.parse(String(row.config_json)) as Record<string, string>, updatedAt: num(row.updated_at) };
    });
  }

  /** Stores what the device reported (replacing its previous report). */
  setReported(deviceId: string, version: number, config: Record<string, string>, errors: readonly ConfigKeyError[] | null, at: number = this.clock.now()): Promise<void> {
    return this.db.transaction(async (sql) => {
      const upsert = this.db.upsert(
        'reported_configs',
        ['device_id', 'version', 'config_json', 'errors_json', 'reported_at'],
        [deviceId, version, JSON.stringify(config), errors === null ? null : JSON.stringify(errors), at],
        ['device_id'],
        ['version', 'config_json', 'errors_json', 'reported_at'].map((c) => `${c} = ${this.db.inserted(c)}`),
      );
      await sql.execute(upsert.sql, upsert.params);
    });
  }

  getReported(deviceId: string): Promise<ReportedConfigRecord | undefined> {
    return this.db.read(async (sql) => {
      const row = (await sql.rows('SELECT version, config_json, errors_json, reported_at FROM reported_configs WHERE device_id = ?', [deviceId]))[0];
      if (row === undefined) return undefined;
      return {
        deviceId,
        version: num(row.version),
        config: JSON.parse(String(row.config_json)) as Record<string, string>,
        errors: row.errors_json === null ? null : (JSON.parse(String(row.errors_json)) as ConfigKeyError[]),
        reportedAt: num(row.reported_at),
      };
    });
  }
}
