import { statSync } from 'node:fs';
import { makeTempDir } from '@iot/harness/processes';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { retainingBetterSqlite3 } from '../../src/db/sqlite-driver.ts';

interface RawDatabase {
  exec(sql: string): void;
  prepare(sql: string): { run(...params: unknown[]): unknown };
  close(): void;
}

/**
 * SQLite shared between processes, as the receiver and the web admin share it: write
 * transactions must begin as writers, statements must wait for a lock rather than fail, and the
 * file (password and token hashes) must be private.
 */
describe('SQLite file shared between processes', () => {
  const dir = makeTempDir('sqlite-locking');
  const open: Database[] = [];
  const others: RawDatabase[] = [];
  let count = 0;
  const fresh = async () => {
    const path = `${dir.path}/db-${++count}.sqlite`;
    const db = await openDatabase({ kind: 'sqlite', path });
    open.push(db);
    return { db, path };
  };
  /** A second connection, like another process's, that never waits: a lock it cannot get is SQLITE_BUSY at once. */
  const otherConnection = (path: string): RawDatabase => {
    const Raw = retainingBetterSqlite3() as unknown as new (file: string, options: object) => RawDatabase;
    const other = new Raw(path, { timeout: 0 });
    others.push(other);
    other.exec('CREATE TABLE IF NOT EXISTS other_writes (n INTEGER)');
    return other;
  };
  const tryWrite = (other: RawDatabase): string => {
    try {
      other.prepare('INSERT INTO other_writes (n) VALUES (1)').run();
      return 'written';
    } catch (error) {
      return String((error as { code?: unknown }).code);
    }
  };
  afterEach(async () => {
    for (const other of others.splice(0)) other.close();
    for (const db of open.splice(0)) await db.close();
  });
  afterAll(() => dir.remove());

  it('holds the write lock from BEGIN, so a write by another process between a read and a write cannot fail the transaction', async () => {
    const { db, path } = await fresh();
    const other = otherConnection(path);
    let during = '';
    // What creating the first admin does: SELECT, then INSERT, in one transaction.
    await db.sql.transaction(async (sql) => {
      await sql.rows('SELECT COUNT(*) AS n FROM users');
      during = tryWrite(other);
      await sql.execute('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)', ['first', 'x', 'admin', 1]);
    });
    // The other process had to wait (its busy timeout would let it): nothing came in between.
    expect(during).toBe('SQLITE_BUSY');
    expect(tryWrite(other)).toBe('written');
    expect(await db.users.count()).toBe(1);
  });

  it('creates the first admin only when there is no user, in one write transaction', async () => {
    const { db } = await fresh();
    expect((await db.users.createFirstAdmin('Root', 'pw'))?.username).toBe('root');
    expect(await db.users.createFirstAdmin('other', 'pw')).toBeUndefined();
    expect(await db.users.count()).toBe(1);
  });

  it('waits for a busy database instead of failing at once', async () => {
    const { db } = await fresh();
    const [row] = await db.sql.read((sql) => sql.rows<{ timeout: number }>('PRAGMA busy_timeout'));
    expect(row?.timeout).toBeGreaterThanOrEqual(5000);
  });

  it('creates the database file, its WAL and shared-memory files with mode 0600, and tightens an existing file', async () => {
    const { db, path } = await fresh();
    await db.users.create('someone', 'pw', 'viewer');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
    await db.close();
    open.splice(open.indexOf(db), 1);

    const { chmodSync } = await import('node:fs');
    chmodSync(path, 0o644);
    open.push(await openDatabase({ kind: 'sqlite', path }));
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
  });
});
