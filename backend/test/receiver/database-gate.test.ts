import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@iot/common/clock';
import { MariaDbServer } from '@iot/harness/processes';
import { captureLogs } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import { isDatabaseUnavailable } from '../../src/receiver/database-errors.ts';
import { DatabaseGate } from '../../src/receiver/database-gate.ts';

/** What `work` throws, from the real driver. */
async function thrown(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail');
}

function gateOver(db: Database) {
  const logs = captureLogs('receiver');
  const gate = new DatabaseGate({ clock: systemClock, logger: logs.logger, probe: () => db.sql.read((sql) => sql.rows('SELECT 1 AS ok')) });
  return { gate, logs };
}

/**
 * Which errors close the gate, with errors made by the real drivers against real servers: only
 * those about the database's state; an error about one message's data, or a bug on its path, is
 * that message's (status `refused`) and the gate stays open for everyone else.
 */
describe('database gate: only database errors close it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-gate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('SQLite (better-sqlite3)', () => {
    let db: Database;
    const path = join(dir, 'gate.sqlite');
    beforeAll(async () => {
      db = await openDatabase({ kind: 'sqlite', path });
    });
    afterAll(async () => {
      await db?.close().catch(() => {});
    });

    it('takes a constraint violation and a bug for the message\'s, not an outage', async () => {
      const { gate, logs } = gateOver(db);
      const insertBoot = () => db.sql.transaction((sql) => sql.execute("INSERT INTO boots (device_id, boot_id, first_seen_at) VALUES ('d', 'b', 1)"));
      await insertBoot();
      const duplicate = await thrown(insertBoot);
      expect(isDatabaseUnavailable(duplicate)).toBe(false);
      expect(await gate.run('storing', insertBoot)).toMatchObject({ status: 'refused' });
      // The defect: JSON.stringify of a deeply nested entry throws a RangeError inside the gate.
      let deep: unknown = 1;
      for (let i = 0; i < 6000; i++) deep = [deep];
      const outcome = await gate.run('storing', async () => JSON.stringify(deep));
      expect(outcome).toMatchObject({ status: 'refused', error: expect.any(RangeError) });
      expect(gate.healthy).toBe(true);
      expect(logs.find('database_down')).toEqual([]);
      expect(await gate.run('storing', async () => 'ok')).toEqual({ status: 'done', value: 'ok' });
    });

    it('takes a missing table and a database locked past the busy timeout for an outage', async () => {
      expect(isDatabaseUnavailable(await thrown(() => db.sql.read((sql) => sql.rows('SELECT * FROM no_such_table'))))).toBe(true);
      // Another process holding the write lock (the web admin, say): a second connection to the file.
      const other = await openDatabase({ kind: 'sqlite', path }, { migrate: false });
      const runner = other.dataSource.createQueryRunner();
      try {
        await runner.query('BEGIN IMMEDIATE');
        const busy = await thrown(() => db.sql.transaction((sql) => sql.execute("INSERT INTO boots (device_id, boot_id, first_seen_at) VALUES ('d', 'c', 1)")));
        expect(busy).toMatchObject({ driverError: { code: 'SQLITE_BUSY' } });
        expect(isDatabaseUnavailable(busy)).toBe(true);
        await runner.query('ROLLBACK');
      } finally {
        await runner.release();
        await other.close();
      }
    }, 20_000);

    it('takes a closed handle for an outage, and an unknown error while the probe fails too', async () => {
      const closing = await openDatabase({ kind: 'sqlite', path: join(dir, 'closed.sqlite') });
      const { gate, logs } = gateOver(closing);
      await closing.close();
      const closed = await thrown(() => closing.sql.read((sql) => sql.rows('SELECT 1 AS ok')));
      expect(isDatabaseUnavailable(closed)).toBe(true);
      // Not recognised by itself, but the database does not answer: an outage.
      expect(await gate.run('storing', async () => Promise.reject(new Error('something odd')))).toEqual({ status: 'unavailable' });
      expect(gate.healthy).toBe(false);
      expect(logs.find('database_down')).toHaveLength(1);
      gate.stop();
    });
  });

  describe('MariaDB (mysql2)', () => {
    const server = new MariaDbServer();
    let db: Database;
    beforeAll(async () => {
      await server.start();
      db = await openDatabase(parseDatabaseUrl(server.url));
    }, 60_000);
    afterAll(async () => {
      await db?.close().catch(() => {});
      await server.dispose();
    });

    it('takes data the columns cannot hold and a duplicate key for the message\'s', async () => {
      const { gate, logs } = gateOver(db);
      const device = (type: string) => () =>
        db.sql.transaction((sql) => sql.execute("INSERT INTO devices (id, protocol, device_type, first_seen_at, last_seen_at) VALUES ('dev-x', 'v1', ?, 0, 0)", [type]));
      const tooLong = await thrown(device('x'.repeat(101)));
      expect(tooLong).toMatchObject({ driverError: { code: 'ER_DATA_TOO_LONG' } });
      expect(isDatabaseUnavailable(tooLong)).toBe(false);
      await device('pi')();
      expect(isDatabaseUnavailable(await thrown(device('pi')))).toBe(false);
      const outOfRange = await thrown(() => db.sql.transaction((sql) => sql.execute("INSERT INTO boots (device_id, boot_id, first_seen_at, shutdown_seq) VALUES ('d', 'b', 0, 2147483648)")));
      expect(outOfRange).toMatchObject({ driverError: { code: 'ER_WARN_DATA_OUT_OF_RANGE' } });
      expect(isDatabaseUnavailable(outOfRange)).toBe(false);
      expect(await gate.run('storing', device('x'.repeat(101)))).toMatchObject({ status: 'refused' });
      expect(gate.healthy).toBe(true);
      expect(logs.find('database_down')).toEqual([]);
    });

    it('takes a missing table and a server that is gone for an outage', async () => {
      expect(isDatabaseUnavailable(await thrown(() => db.sql.read((sql) => sql.rows('SELECT * FROM no_such_table'))))).toBe(true);
      const { gate, logs } = gateOver(db);
      await server.kill();
      const gone = await thrown(() => db.sql.read((sql) => sql.rows('SELECT 1 AS ok')));
      expect(isDatabaseUnavailable(gone)).toBe(true);
      expect(await gate.run('storing', () => db.sql.read((sql) => sql.rows('SELECT 1 AS ok')))).toEqual({ status: 'unavailable' });
      expect(gate.healthy).toBe(false);
      expect(logs.find('database_down')).toHaveLength(1);
      gate.stop();
    }, 60_000);
  });
});
