import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions } from 'typeorm';

/**
 * Web admin accounts and API tokens (issue "Web admin"). Portable Table API like the initial
 * schema, so MariaDB and SQLite get the same tables. Frozen once released.
 *
 * Only hashes are stored: scrypt for passwords (password-hash.ts), SHA-256 hex for API tokens,
 * which are 256 random bits and so need no slow hash.
 */
export class WebAdminUsers1767312000000 implements MigrationInterface {
  readonly name = 'WebAdminUsers1767312000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    const engine = sqlite ? undefined : 'InnoDB';
    // SQLite allows AUTOINCREMENT only on INTEGER PRIMARY KEY.
    const autoId: TableColumnOptions = { name: 'id', type: sqlite ? 'integer' : 'bigint', isPrimary: true, isGenerated: true, generationStrategy: 'increment' };
    const ms = (name: string, isNullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable });

    await queryRunner.createTable(
      new Table({
        name: 'users',
        engine,
        columns: [
          autoId,
          { name: 'username', type: 'varchar', length: '64' },
          { name: 'password_hash', type: 'varchar', length: '255' },
          { name: 'role', type: 'varchar', length: '16' },
          ms('created_at'),
        ],
        uniques: [{ name: 'UQ_users_username', columnNames: ['username'] }],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'api_tokens',
        engine,
        columns: [
          autoId,
          { name: 'token_hash', type: 'varchar', length: '64' },
          { name: 'user_id', type: 'bigint' },
          { name: 'name', type: 'varchar', length: '100' },
          ms('created_at'),
          ms('last_used_at', true),
        ],
        uniques: [{ name: 'UQ_api_tokens_hash', columnNames: ['token_hash'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_tokens');
    await queryRunner.dropTable('users');
  }
}
