import { afterEach, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, MIGRATIONS, openDatabase } from '../../src/db/index.ts';

const HARDENING = 'WebAdminHardening1767744000000';
const DAY_MS = 24 * 3600 * 1000;

/**
 * The web admin hardening migration over users and tokens made before it: names normalised
 * (collisions kept apart, none lost), old tokens given a scope and an expiry.
 */
export function describeUserMigrationSuite(name: string, freshConfig: () => Promise<DatabaseConfig>): void {
  describe(`web admin hardening migration on ${name}`, () => {
    const open: Database[] = [];
    afterEach(async () => {
      for (const db of open.splice(0)) await db.close();
    });

    it('normalises existing usernames without merging colliding accounts, and gives old tokens full scope and a 90-day expiry', async () => {
      const db = await openDatabase(await freshConfig());
      open.push(db);
      const names = MIGRATIONS.map((m) => m.name);
      for (const _ of names.slice(names.indexOf(HARDENING))) await db.dataSource.undoLastMigration({ transaction: 'each' });

      // Rows as the old code wrote them; MariaDB's collation refuses some of them already.
      const legacy = ['Ann', 'ann', 'ANN', 'Bob.Smith', 'cara'];
      const stored: string[] = [];
      for (const username of legacy) {
        try {
          await db.dataSource.query('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)', [username, `hash-of-${username}`, 'viewer', 1]);
          stored.push(username);
        } catch {
          // A duplicate under the old unique key.
        }
      }
      await db.dataSource.query('INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES (?, ?, ?, ?)', ['a'.repeat(64), 1, 'old', 1]);

      const before = Date.now();
      expect(await db.runMigrations()).toEqual(names.slice(names.indexOf(HARDENING)));
      const users = (await db.dataSource.query('SELECT username, password_hash FROM users ORDER BY id')) as { username: string; password_hash: string }[];
      // Every account is still there, each under a distinct normalised name; an already normal one keeps its name.
      expect(users.map((u) => u.password_hash)).toEqual(stored.map((u) => `hash-of-${u}`));
      const after = Object.fromEntries(users.map((u) => [u.password_hash.slice('hash-of-'.length), u.username]));
      expect(after['Bob.Smith']).toBe('bob.smith');
      expect(after.cara).toBe('cara');
      if (stored.includes('ann')) {
        expect(after.ann).toBe('ann');
        expect([after.Ann, after.ANN].sort()).toEqual(['ann-2', 'ann-3']);
      } else expect(after.Ann).toBe('ann');
      expect(await db.users.find('BOB.SMITH')).toMatchObject({ username: 'bob.smith' });

      const [token] = await db.users.listTokens();
      expect(token).toMatchObject({ name: 'old', scope: 'full', state: 'active', revokedAt: null });
      expect(token?.expiresAt).toBeGreaterThanOrEqual(before + 90 * DAY_MS);
      expect(token?.expiresAt).toBeLessThanOrEqual(Date.now() + 90 * DAY_MS);
    });
  });
}
