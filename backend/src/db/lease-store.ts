import { num, type Sql, type SqlAccess } from './sql-access.ts';

/** A named lease as stored: who holds it and until when (epoch ms of the holder's clock). */
export interface LeaseState {
  name: string;
  /** Empty when nobody ever held it. */
  owner: string;
  expiresAt: number;
}

/** What an attempt to take a lease found. */
export interface LeaseAttempt {
  acquired: boolean;
  /** The lease after the attempt: ours when acquired, else the current holder's. */
  lease: LeaseState;
  /** Who held it before, when we took it over from someone else (their lease had expired or was released). */
  tookOverFrom: string | null;
}

/** Thrown inside a fenced transaction whose owner no longer holds the lease; the transaction rolls back. */
export class LeaseLostError extends Error {
  readonly lease: string;
  readonly owner: string;

  constructor(lease: string, owner: string) {
    super(`lease ${lease} is no longer held by ${owner}`);
    this.name = 'LeaseLostError';
    this.lease = lease;
    this.owner = owner;
  }
}

/**
 * Leases in the `leases` table: at most one owner at a time per name, for work that several
 * instances of a service could do but only one should (the rollup refresh).
 *
 * Taking and renewing is one conditional UPDATE (owner is me, or the expiry passed), the same on
 * both dialects and atomic on each. Expiry compares the taker's clock with the holder's, so clocks
 * of hosts sharing a database must agree to well within the lease time; work that must never
 * overlap is additionally fenced by {@link renewIn} inside its own transaction.
 */
export class LeaseStore {
  private readonly db: SqlAccess;

  constructor(db: SqlAccess) {
    this.db = db;
  }

  /** The lease's row, undefined when it does not exist. */
  get(name: string): Promise<LeaseState | undefined> {
    return this.db.read(async (sql) => {
      const row = (await sql.rows('SELECT name, owner, expires_at FROM leases WHERE name = ?', [name]))[0];
      return row === undefined ? undefined : { name: String(row.name), owner: String(row.owner), expiresAt: num(row.expires_at) };
    });
  }

  /**
   * Takes or renews `name` for `owner` until `now + ttlMs` if nobody else holds it at `now`.
   * A lease that looks held by someone else is only read (a plain read, which never waits for the
   * holder's transaction); the UPDATE that decides runs only when it looks free or ours.
   */
  async tryAcquire(name: string, owner: string, now: number, ttlMs: number): Promise<LeaseAttempt> {
    let before = await this.get(name);
    if (before === undefined) {
      await this.db.transaction((sql) => this.db.insertSkippingDuplicates(sql, 'leases', ['name', 'owner', 'expires_at', 'version'], [[name, '', 0, 0]], ['name']));
      before = { name, owner: '', expiresAt: 0 };
    }
    if (before.owner !== owner && before.expiresAt >= now) return { acquired: false, lease: before, tookOverFrom: null };
    const until = now + ttlMs;
    // A transaction whose first statement writes: on SQLite it takes the write lock at once (a
    // read first could not upgrade after another process wrote).
    const acquired = await this.db.transaction(
      async (sql) =>
        (await sql.execute('UPDATE leases SET owner = ?, expires_at = ?, version = version + 1 WHERE name = ? AND (owner = ? OR expires_at < ?)', [owner, until, name, owner, now]))
          .affected > 0,
    );
    if (!acquired) return { acquired: false, lease: (await this.get(name)) ?? before, tookOverFrom: null };
    const tookOverFrom = before.owner !== '' && before.owner !== owner ? before.owner : null;
    return { acquired: true, lease: { name, owner, expiresAt: until }, tookOverFrom };
  }

  /**
   * Inside the caller's transaction, as its first statement: renews `name` for `owner` until
   * `until`, and @returns false when `owner` no longer holds it. The UPDATE locks the lease row
   * (MariaDB) or the database (SQLite) until the transaction ends, so a rival's takeover waits
   * for this transaction and can never overlap it.
   */
  async renewIn(sql: Sql, name: string, owner: string, until: number): Promise<boolean> {
    const { affected } = await sql.execute('UPDATE leases SET expires_at = ?, version = version + 1 WHERE name = ? AND owner = ?', [until, name, owner]);
    return affected > 0;
  }

  /**
   * Inside the caller's transaction, as its first statement: locks the lease row without taking
   * the lease, so this transaction and every fenced one run one after the other.
   */
  async lockIn(sql: Sql, name: string): Promise<void> {
    await sql.execute('UPDATE leases SET version = version + 1 WHERE name = ?', [name]);
  }

  /**
   * Gives the lease up so another instance can take it at once. The owner is cleared too, so a
   * late {@link renewIn} of the old owner fails. @returns whether `owner` held it.
   */
  release(name: string, owner: string): Promise<boolean> {
    return this.db.transaction(
      async (sql) => (await sql.execute("UPDATE leases SET owner = '', expires_at = 0, version = version + 1 WHERE name = ? AND owner = ?", [name, owner])).affected > 0,
    );
  }
}
