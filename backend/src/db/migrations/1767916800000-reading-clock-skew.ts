import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

/**
 * `readings.clock_skew`: 1 when the reading's time lay outside the plausible window around the
 * time it was received (a Pi without a real-time clock measures with a clock that is behind until
 * NTP syncs). Such readings are kept, flagged, and counted on the integrity page rather than
 * refused (docs/protocol.md §10). Frozen once released.
 */
export class ReadingClockSkew1767916800000 implements MigrationInterface {
  readonly name = 'ReadingClockSkew1767916800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    await queryRunner.addColumn('readings', new TableColumn({ name: 'clock_skew', type: sqlite ? 'integer' : 'int', default: 0, isNullable: false }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('readings', 'clock_skew');
  }
}
