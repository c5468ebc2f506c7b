import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

/**
 * What the receiver needs to bound what devices send (receiver/limits.ts). Frozen once released.
 *
 * - `rejected_message_counts`: how many messages or entries one `rejected_messages` row stands
 *   for, for the rows that stand for more than one (a batch with many bad entries is one row, and
 *   so is the summary of a device's rate-limited rejections). Beside the table rather than in it,
 *   so the entity schemas (entities.ts) need no change; keyed by the row's id and carrying its
 *   time, so retention deletes both with the same predicates.
 * - `device_metrics`: the metric names each device has sent, so "at most N distinct metrics per
 *   device" is one indexed lookup instead of a scan of every reading's JSON. Filled from the chart
 *   rollups, which hold every metric stored so far (less any not rolled up yet, which register
 *   with their next reading).
 */
export class ReceiverLimits1767830400000 implements MigrationInterface {
  readonly name = 'ReceiverLimits1767830400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    const engine = sqlite ? undefined : 'InnoDB';
    const int = sqlite ? 'integer' : 'int';

    await queryRunner.createTable(
      new Table({
        name: 'rejected_message_counts',
        engine,
        columns: [
          { name: 'rejection_id', type: sqlite ? 'integer' : 'bigint', isPrimary: true },
          { name: 'received_at', type: 'bigint' },
          { name: 'entries', type: int },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'device_metrics',
        engine,
        columns: [
          { name: 'device_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'metric', type: 'varchar', length: '64', isPrimary: true },
          { name: 'first_seen_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.query(
      'INSERT INTO device_metrics (device_id, metric, first_seen_at) SELECT device_id, metric, MIN(bucket_start) FROM reading_rollups GROUP BY device_id, metric',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('device_metrics');
    await queryRunner.dropTable('rejected_message_counts');
  }
}
