import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type DatabaseConfig, openDatabase } from '../../src/db/index.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** How many responses had each status. */
function tally(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/**
 * The login limit on one dialect: attempts count before the password check, and every spelling
 * of an account (case, width, surrounding spaces) shares its budget. On MariaDB the column's
 * collation calls `ADAM`, `adam ` and `ádam` equal to `adam`, which is what made spelling
 * variants fresh attempts at the same password.
 */
export function describeLoginLimits(name: string, freshConfig: () => Promise<DatabaseConfig>): void {
  describe(`login limit on ${name}`, () => {
    let db: Database;
    let web: WebAdminUnderTest;
    const login = async (username: string, password: string) => (await web.fetch('/login', json({ username, password }))).status;

    beforeAll(async () => {
      db = await openDatabase(await freshConfig());
      web = await WebAdminUnderTest.start(db);
    }, 60_000);
    afterAll(async () => {
      await web?.close();
      await db?.close();
    });

    it('checks at most 5 of 200 concurrent wrong passwords; the others get 429, and then so does the right one', async () => {
      await db.users.create('target', 'right-pw', 'viewer');
      const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => login('target', `guess-${i}`)));
      expect(tally(statuses)).toEqual({ 401: 5, 429: 195 });
      expect(await login('target', 'right-pw')).toBe(429);
    }, 60_000);

    it('gives every spelling of an account one budget: after 5 failures as adam, ADAM, "adam ", fullwidth ａｄａｍ get 429 even with the right password', async () => {
      await db.users.create('adam', 'adam-pw', 'viewer');
      for (let i = 0; i < 5; i++) expect(await login('adam', `guess-${i}`)).toBe(401);
      for (const variant of ['ADAM', 'adam ', ' Adam', 'ａｄａｍ', 'ＡＤＡＭ', 'adam\u3000']) {
        expect(await login(variant, 'adam-pw'), JSON.stringify(variant)).toBe(429);
      }
      // An accented name is another name, of no account: it never reaches adam's password.
      expect(await login('ádam', 'adam-pw')).toBe(401);
    }, 60_000);

    it('logs a respelled name in as the one stored account', async () => {
      await db.users.create('Ｂｅａ', 'bea-pw', 'admin');
      const response = await web.fetch('/login', json({ username: ' BEA ', password: 'bea-pw' }));
      expect(response.status).toBe(200);
      expect(((await response.json()) as { user: unknown }).user).toEqual({ username: 'bea', role: 'admin' });
    });

    it('stores usernames normalised and refuses one that collides with a stored name', async () => {
      expect((await db.users.create('Carl.Smith', 'pw', 'viewer')).username).toBe('carl.smith');
      for (const collision of ['carl.smith', 'CARL.SMITH', ' carl.smith', 'ｃａｒｌ.ｓｍｉｔｈ']) {
        await expect(db.users.create(collision, 'pw', 'viewer'), collision).rejects.toThrow('exists already');
      }
      for (const invalid of ['cárl', 'a b', '', 'x'.repeat(65)]) await expect(db.users.create(invalid, 'pw', 'viewer'), invalid).rejects.toThrow('a username is');
      expect((await db.users.find('CARL.smith'))?.username).toBe('carl.smith');
    });

    it('names the field of a malformed login', async () => {
      for (const [body, field] of [
        [{ password: 'x' }, 'username'],
        [{ username: 'adam' }, 'password'],
        [{ username: 'a'.repeat(300), password: 'x' }, 'username'],
        [{ username: 'adam', password: 7 }, 'password'],
      ] as const) {
        const response = await web.fetch('/login', json(body));
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(new RegExp(`^${field}:`));
      }
    });
  });
}
