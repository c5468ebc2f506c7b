import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions, TableIndex } from 'typeorm';

/**
 * The first schema: devices, their readings and boots, commands, the configuration twin and
 * rejected messages. Written with TypeORM's portable Table API so the same migration creates the
 * same tables on MariaDB and SQLite. Frozen: later changes get their own migration.
 *
 * Times are BIGINT milliseconds since the epoch everywhere: portable, no time-zone conversions.
 */
export class InitialSchema1767225600000 implements MigrationInterface {
  readonly name = 'InitialSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    // SQLite allows AUTOINCREMENT only on INTEGER PRIMARY KEY (a 64-bit rowid alias).
    const autoId: TableColumnOptions = {
      name: 'id',
      type: sqlite ? 'integer' : 'bigint',
      isPrimary: true,
      isGenerated: true,
      generationStrategy: 'increment',
    };
    // A command's response (send_measurements) can exceed TEXT's 64 KiB on MariaDB.
    const longText = sqlite ? 'text' : 'mediumtext';
    // TypeORM reads SQLite's INT columns back as "integer"; naming them so keeps entities and tables equal.
    const int = sqlite ? 'integer' : 'int';
    const engine = sqlite ? undefined : 'InnoDB';
    const ms = (name: string, isNullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable });
    const str = (name: string, length: number, isNullable = false): TableColumnOptions => ({ name, type: 'varchar', length: String(length), isNullable });

    await queryRunner.createTable(
      new Table({
        name: 'devices',
        engine,
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          str('protocol', 16),
          str('device_type', 100, true),
          str('app_id', 100, true),
          str('app_name', 200, true),
          ms('first_seen_at'),
          ms('last_seen_at'),
          { name: 'online', type: 'boolean', isNullable: true },
          { name: 'status_json', type: 'text', isNullable: true },
          ms('status_at', true),
          str('name', 100, true),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'readings',
        engine,
        columns: [
          autoId,
          str('device_id', 64),
          str('reading_key', 80),
          str('boot_id', 16, true),
          { name: 'seq', type: int, isNullable: true },
          str('stream_id', 41),
          ms('measured_at'),
          ms('received_at'),
          { name: 'values_json', type: 'text' },
        ],
        uniques: [{ name: 'UQ_readings_device_key', columnNames: ['device_id', 'reading_key'] }],
      }),
    );
    await queryRunner.createIndex('readings', new TableIndex({ name: 'IDX_readings_device_measured', columnNames: ['device_id', 'measured_at'] }));
    await queryRunner.createIndex('readings', new TableIndex({ name: 'IDX_readings_device_boot_seq', columnNames: ['device_id', 'boot_id', 'seq'] }));

    await queryRunner.createTable(
      new Table({
        name: 'boots',
        engine,
        columns: [
          { name: 'device_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'boot_id', type: 'varchar', length: '16', isPrimary: true },
          ms('first_seen_at'),
          { name: 'shutdown_seq', type: int, isNullable: true },
          ms('shutdown_at', true),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'commands',
        engine,
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          str('device_id', 64),
          str('command', 50),
          { name: 'args_json', type: 'text' },
          str('state', 16),
          ms('created_at'),
          ms('delivered_at', true),
          ms('expires_at'),
          ms('answered_at', true),
          { name: 'ok', type: 'boolean', isNullable: true },
          { name: 'response_json', type: longText, isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex('commands', new TableIndex({ name: 'IDX_commands_device_created', columnNames: ['device_id', 'created_at'] }));

    await queryRunner.createTable(
      new Table({
        name: 'desired_configs',
        engine,
        columns: [
          { name: 'device_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'version', type: int },
          { name: 'config_json', type: 'text' },
          ms('updated_at'),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'reported_configs',
        engine,
        columns: [
          { name: 'device_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'version', type: int },
          { name: 'config_json', type: 'text' },
          { name: 'errors_json', type: 'text', isNullable: true },
          ms('reported_at'),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'rejected_messages',
        engine,
        columns: [
          autoId,
          ms('received_at'),
          str('topic', 255),
          str('device_id', 64, true),
          str('reason', 40),
          str('detail', 1000),
          { name: 'payload_excerpt', type: 'text' },
          { name: 'payload_bytes', type: int },
        ],
      }),
    );
    await queryRunner.createIndex('rejected_messages', new TableIndex({ name: 'IDX_rejected_received', columnNames: ['received_at'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['rejected_messages', 'reported_configs', 'desired_configs', 'commands', 'boots', 'readings', 'devices']) {
      await queryRunner.dropTable(table);
    }
  }
}
