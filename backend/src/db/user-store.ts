import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '@iot/common/clock';
import { hashPassword, verifyPassword } from '../broker/password-hash.ts';
import { num, type Row, type SqlAccess } from './sql-access.ts';

export type UserRole = 'viewer' | 'admin';
export const USER_ROLES: readonly UserRole[] = ['viewer', 'admin'];

export interface UserRecord {
  id: number;
  username: string;
  role: UserRole;
  createdAt: number;
}

/** Usernames: short and printable, so they are safe in logs and cookies' neighbourhood. */
export const USERNAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

/** A hash that never matches, verified for unknown users so a login takes as long either way. */
let decoyHash: Promise<string> | undefined;

/** SHA-256 hex of an API token: tokens are 256 random bits, so a fast hash is enough to store them. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Web admin users (scrypt password hashes) and their API tokens (stored as SHA-256 only). */
export class UserStore {
  private readonly db: SqlAccess;
  private readonly clock: Clock;

  constructor(db: SqlAccess, clock: Clock) {
    this.db = db;
    this.clock = clock;
  }

  /**
   * Creates a user. @throws Error on a malformed username or role, or when the name is taken
   * (the unique key decides, so two concurrent creations cannot both succeed).
   */
  async create(username: string, password: string, role: UserRole): Promise<UserRecord> {
    if (!USERNAME_PATTERN.test(username)) throw new Error('a username is 1–64 of A–Z a–z 0–9 . _ @ -');
    if (!USER_ROLES.includes(role)) throw new Error(`role must be one of ${USER_ROLES.join(', ')}`);
    if (password.length === 0) throw new Error('the password is empty');
    const hash = await hashPassword(password);
    const createdAt = this.clock.now();
    return this.db.transaction(async (sql) => {
      const existing = await sql.rows('SELECT id FROM users WHERE username = ?', [username]);
      if (existing.length > 0) throw new Error(`user "${username}" exists already`);
      const { insertId } = await sql.execute('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)', [username, hash, role, createdAt]);
      return { id: num(insertId), username, role, createdAt };
    });
  }

  find(username: string): Promise<UserRecord | undefined> {
    return this.db.read(async (sql) => {
      const [row] = await sql.rows('SELECT id, username, role, created_at FROM users WHERE username = ?', [username]);
      return row === undefined ? undefined : toUser(row);
    });
  }

  count(): Promise<number> {
    return this.db.read(async (sql) => num((await sql.rows('SELECT COUNT(*) AS n FROM users'))[0]?.n ?? 0));
  }

  /** The user when `password` is theirs, else undefined; unknown names cost a hash too. */
  async verify(username: string, password: string): Promise<UserRecord | undefined> {
    const row = await this.db.read(async (sql) => (await sql.rows('SELECT id, username, role, created_at, password_hash FROM users WHERE username = ?', [username]))[0]);
    if (row === undefined) {
      decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await decoyHash);
      return undefined;
    }
    return (await verifyPassword(password, String(row.password_hash))) ? toUser(row) : undefined;
  }

  /** Creates an API token for the user. @returns the token itself, which is shown once and never stored. */
  async createToken(userId: number, name: string): Promise<string> {
    const token = `iotw_${randomBytes(32).toString('base64url')}`;
    await this.db.transaction((sql) =>
      sql.execute('INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES (?, ?, ?, ?)', [tokenHash(token), userId, name, this.clock.now()]),
    );
    return token;
  }

  /** The token's user, noting the use; undefined for an unknown token. */
  async verifyToken(token: string): Promise<UserRecord | undefined> {
    const hash = tokenHash(token);
    return this.db.transaction(async (sql) => {
      const [row] = await sql.rows(
        'SELECT u.id, u.username, u.role, u.created_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?',
        [hash],
      );
      if (row === undefined) return undefined;
      await sql.execute('UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?', [this.clock.now(), hash]);
      return toUser(row);
    });
  }
}

function toUser(r: Row): UserRecord {
  return { id: num(r.id), username: String(r.username), role: String(r.role) as UserRole, createdAt: num(r.created_at) };
}
