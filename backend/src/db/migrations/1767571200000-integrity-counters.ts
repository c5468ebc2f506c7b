import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

/**
 * Integrity figures from counters kept at write time, instead of a COUNT(*) over all readings and
 * a gaps query per device on every look at the integrity page. Frozen once released.
 *
 * - `devices.readings_stored`: readings stored for the device.
 * - `boots.readings`, `boots.min_seq`, `boots.max_seq`: per (device, boot), the readings stored
 *   with a sequence number and the lowest and highest of those numbers.
 *
 * ReadingStore.storeReadings adds to them in the transaction that stores the batch, counting only
 * rows really inserted, so they are exact whatever arrives twice. Sequence numbers start at 1
 * (docs/protocol.md §2), so a boot misses max(max_seq, shutdown_seq) − readings of them; which ones is a
 * bounded query for one device or boot, run on request.
 *
 * Existing rows are backfilled here from the readings (one pass per table, using the
 * (device, boot, seq) index for the boots).
 */
export class IntegrityCounters1767571200000 implements MigrationInterface {
  readonly name = 'IntegrityCounters1767571200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.driver.options.type === 'better-sqlite3';
    // TypeORM reads SQLite's INT columns back as "integer"; naming them so keeps entities and tables equal.
    const int = sqlite ? 'integer' : 'int';

    await queryRunner.addColumn('devices', new TableColumn({ name: 'readings_stored', type: 'bigint', default: 0 }));
    await queryRunner.addColumns('boots', [
      new TableColumn({ name: 'readings', type: int, default: 0 }),
      new TableColumn({ name: 'min_seq', type: int, isNullable: true }),
      new TableColumn({ name: 'max_seq', type: int, isNullable: true }),
    ]);

    await queryRunner.query('UPDATE devices SET readings_stored = (SELECT COUNT(*) FROM readings r WHERE r.device_id = devices.id)');
    const ofBoot = 'FROM readings r WHERE r.device_id = boots.device_id AND r.boot_id = boots.boot_id AND r.seq IS NOT NULL';
    await queryRunner.query(
      `UPDATE boots SET readings = (SELECT COUNT(*) ${ofBoot}), min_seq = (SELECT MIN(r.seq) ${ofBoot}), max_seq = (SELECT MAX(r.seq) ${ofBoot})`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('boots', 'max_seq');
    await queryRunner.dropColumn('boots', 'min_seq');
    await queryRunner.dropColumn('boots', 'readings');
    await queryRunner.dropColumn('devices', 'readings_stored');
  }
}
