import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

/** Existing tokens keep working this long after the migration, then expire like new ones do. */
const LEGACY_TOKEN_DAYS = 90;
const DAY_MS = 24 * 3600 * 1000;
const USERNAME_PATTERN = /^[a-z0-9._@-]{1,64}$/;

/**
 * Web admin hardening after the security review. Frozen once released, so it carries its own
 * copy of the username rule instead of importing the store's.
 *
 * - `api_tokens.scope` (`read` | `full`), `expires_at`, `revoked_at`. Tokens made before had
 *   their user's full role and no expiry: they keep `full` so scripts go on working, and expire
 *   {@link LEGACY_TOKEN_DAYS} days from now.
 * - Usernames in their normal form (NFKC, trimmed, lower-case), as UserStore now stores and
 *   looks them up. MariaDB's collation already kept `Ann` and `ann` apart from each other; SQLite
 *   compares bytes and may hold both. Of names that collide, the one already in normal form (or
 *   else the oldest) gets the normal form; each other becomes `<name>-2`, `-3`, … so no account
 *   is lost and none takes over another's name. Renames go through a temporary name per row, so
 *   the unique key never sees two rows with one name.
 */
export class WebAdminHardening1767744000000 implements MigrationInterface {
  readonly name = 'WebAdminHardening1767744000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('api_tokens', [
      new TableColumn({ name: 'scope', type: 'varchar', length: '8', default: "'full'" }),
      new TableColumn({ name: 'expires_at', type: 'bigint', isNullable: true }),
      new TableColumn({ name: 'revoked_at', type: 'bigint', isNullable: true }),
    ]);
    await queryRunner.query('UPDATE api_tokens SET expires_at = ? WHERE expires_at IS NULL', [Date.now() + LEGACY_TOKEN_DAYS * DAY_MS]);

    const users = (await queryRunner.query('SELECT id, username FROM users ORDER BY id')) as { id: number | string; username: string }[];
    const renames = normalisedNames(users.map((u) => ({ id: Number(u.id), username: String(u.username) })));
    for (const { id } of renames) await queryRunner.query('UPDATE users SET username = ? WHERE id = ?', [`#migrating-${id}`, id]);
    for (const { id, username } of renames) await queryRunner.query('UPDATE users SET username = ? WHERE id = ?', [username, id]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Names stay normalised: the old code accepted them as they are.
    await queryRunner.dropColumn('api_tokens', 'revoked_at');
    await queryRunner.dropColumn('api_tokens', 'expires_at');
    await queryRunner.dropColumn('api_tokens', 'scope');
  }
}

function normalise(name: string): string {
  const folded = name.normalize('NFKC').trim().toLowerCase();
  // Rows written past the old code's checks: keep them reachable under a valid name.
  const valid = folded.replace(/[^a-z0-9._@-]/g, '_').slice(0, 64);
  return valid === '' ? 'user' : valid;
}

/** The rows whose name changes, with their new, unique names. */
function normalisedNames(users: readonly { id: number; username: string }[]): { id: number; username: string }[] {
  const alreadyNormal = (u: { username: string }) => normalise(u.username) === u.username && USERNAME_PATTERN.test(u.username);
  const order = [...users].sort((a, b) => Number(alreadyNormal(b)) - Number(alreadyNormal(a)) || a.id - b.id);
  const taken = new Set<string>();
  const renames: { id: number; username: string }[] = [];
  for (const user of order) {
    const base = normalise(user.username);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base.slice(0, 64 - `-${n}`.length)}-${n}`;
    taken.add(name);
    if (name !== user.username) renames.push({ id: user.id, username: name });
  }
  return renames;
}
