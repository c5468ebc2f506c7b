import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

/**
 * Rollups get one owner (issue "One package per boundary"): the receiver process refreshes them,
 * and when several receivers run, a lease decides which one. Frozen once released.
 *
 * `leases` holds one row per named lease: who holds it and until when (epoch ms of the holder's
 * clock). It is taken with a conditional UPDATE (owner is me, or the expiry passed), which works
 * the same on MariaDB and SQLite; `version` is bumped by every write so an UPDATE always changes
 * the row (MariaDB counts only changed rows as affected). The row of the rollup lease is created
 * here, so refreshers only ever UPDATE it: its row lock (MariaDB) or the write lock (SQLite)
 * also serialises refresh transactions.
 *
 * `rollup_progress` is what the refresher tells the web admin: per device, a generation bumped by
 * every refresh that changed the device's rollups, and the newest minute bucket it touched. The
 * web admin polls it to send `readings` events once new data is chartable.
 */
export class RollupOwnership1767484800000 implements MigrationInterface {
  readonly name = 'RollupOwnership1767484800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    const engine = sqlite ? undefined : 'InnoDB';

    await queryRunner.createTable(
      new Table({
        name: 'leases',
        engine,
        columns: [
          { name: 'name', type: 'varchar', length: '64', isPrimary: true },
          // Empty when nobody ever held it.
          { name: 'owner', type: 'varchar', length: '128', default: "''" },
          { name: 'expires_at', type: 'bigint', default: 0 },
          { name: 'version', type: 'bigint', default: 0 },
        ],
      }),
    );
    await queryRunner.query("INSERT INTO leases (name, owner, expires_at, version) VALUES ('rollups', '', 0, 0)");

    await queryRunner.createTable(
      new Table({
        name: 'rollup_progress',
        engine,
        columns: [
          { name: 'device_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'generation', type: 'bigint', default: 0 },
          { name: 'latest_bucket', type: 'bigint', default: 0 },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('rollup_progress');
    await queryRunner.dropTable('leases');
  }
}
