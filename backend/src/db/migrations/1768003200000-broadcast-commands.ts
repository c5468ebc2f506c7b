import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions, TableIndex } from 'typeorm';

/**
 * Commands to every device at once on the broadcast topic (docs/original-devices.md §3), and one
 * answer row per device that answered. A broadcast has no device of its own, so it does not fit
 * `commands` (whose rows are one device's command each). Frozen once released.
 */
export class BroadcastCommands1768003200000 implements MigrationInterface {
  readonly name = 'BroadcastCommands1768003200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    const engine = sqlite ? undefined : 'InnoDB';
    const longText = sqlite ? 'text' : 'mediumtext';
    const ms = (name: string, isNullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable });
    const str = (name: string, length: number, isNullable = false): TableColumnOptions => ({ name, type: 'varchar', length: String(length), isNullable });

    await queryRunner.createTable(
      new Table({
        name: 'broadcasts',
        engine,
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          str('command', 50),
          { name: 'args_json', type: 'text' },
          str('state', 16),
          ms('created_at'),
          ms('sent_at', true),
          ms('expires_at'),
          str('created_by', 100, true),
          { name: 'error_json', type: 'text', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex('broadcasts', new TableIndex({ name: 'IDX_broadcasts_created', columnNames: ['created_at'] }));

    await queryRunner.createTable(
      new Table({
        name: 'broadcast_answers',
        engine,
        columns: [
          { name: 'broadcast_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'device_id', type: 'varchar', length: '64', isPrimary: true },
          ms('answered_at'),
          { name: 'ok', type: 'boolean', isNullable: true },
          { name: 'response_json', type: longText, isNullable: true },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('broadcast_answers');
    await queryRunner.dropTable('broadcasts');
  }
}
