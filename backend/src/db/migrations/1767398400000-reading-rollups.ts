import { type MigrationInterface, type QueryRunner, Table, TableColumn, type TableColumnOptions } from 'typeorm';

/**
 * Downsampled readings for the web admin's charts (issue "Web admin"), and the duplicates each
 * device's readings absorbed. Frozen once released.
 *
 * `reading_rollups` holds count/min/max/sum per (device, resolution, bucket, metric), so a chart
 * over months reads a few hundred rows instead of millions of JSON documents. It is derived data:
 * `rollup_dirty` marks the minute buckets a stored batch touched, in the batch's own transaction,
 * and the rollup worker recomputes marked buckets from `readings`. A recomputation is idempotent,
 * so duplicates and concurrent workers cannot make a bucket count a reading twice.
 */
export class ReadingRollups1767398400000 implements MigrationInterface {
  readonly name = 'ReadingRollups1767398400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    const engine = sqlite ? undefined : 'InnoDB';
    const int = sqlite ? 'integer' : 'int';
    const ms = (name: string): TableColumnOptions => ({ name, type: 'bigint' });
    const deviceId: TableColumnOptions = { name: 'device_id', type: 'varchar', length: '64', isPrimary: true };

    await queryRunner.createTable(
      new Table({
        name: 'rollup_dirty',
        engine,
        columns: [
          deviceId,
          { ...ms('bucket_start'), isPrimary: true },
          // Bumped by every batch that touches the bucket: the worker deletes a mark only if
          // nobody re-marked it while it was recomputing.
          { name: 'generation', type: int, default: 1 },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'reading_rollups',
        engine,
        columns: [
          deviceId,
          // Bucket length in seconds: 60 (minute) or 3600 (hour).
          { name: 'resolution', type: int, isPrimary: true },
          { ...ms('bucket_start'), isPrimary: true },
          { name: 'metric', type: 'varchar', length: '64', isPrimary: true },
          { name: 'count', type: int },
          { name: 'min_value', type: 'double' },
          { name: 'max_value', type: 'double' },
          { name: 'sum_value', type: 'double' },
        ],
      }),
    );

    await queryRunner.addColumn('devices', new TableColumn({ name: 'duplicates_absorbed', type: 'bigint', default: 0 }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('devices', 'duplicates_absorbed');
    await queryRunner.dropTable('reading_rollups');
    await queryRunner.dropTable('rollup_dirty');
  }
}
