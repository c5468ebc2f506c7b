import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '@iot/common/clock';
import { hashPassword, verifyPassword } from '../broker/password-hash.ts';
import { num, numOrNull, type Row, type Sql, type SqlAccess } from './sql-access.ts';

export type UserRole = 'viewer' | 'admin';
export const USER_ROLES: readonly UserRole[] = ['viewer', 'admin'];

/** What an API token may do: `read` acts as a viewer whatever its user's role; `full` has the user's role. */
export type TokenScope = 'read' | 'full';
export const TOKEN_SCOPES: readonly TokenScope[] = ['read', 'full'];

/** The longest life a new API token may have. */
export const MAX_TOKEN_LIFETIME_MS = 365 * 24 * 3600 * 1000;
/** How stale `last_used_at` may be: one write a minute per busy token instead of one per request. */
const LAST_USE_RESOLUTION_MS = 60_000;

export interface UserRecord {
  id: number;
  username: string;
  role: UserRole;
  createdAt: number;
}

/** An API token as listed: never the token itself, which is shown once and only its hash stored. */
export interface TokenRecord {
  id: number;
  userId: number;
  username: string;
  name: string;
  scope: TokenScope;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  state: 'active' | 'expired' | 'revoked';
}

/** Who a valid API token speaks for, and with what scope. */
export interface TokenUse {
  user: UserRecord;
  tokenId: number;
  scope: TokenScope;
}

/** A stored account a login name refers to, with its password hash (never leaves the web admin). */
export interface LoginCandidate {
  user: UserRecord;
  passwordHash: string;
}

/**
 * A stored username: already normalised (see {@link normaliseUsername}), lower-case ASCII, so that
 * equality is the same exact comparison in SQLite and in MariaDB's case-, accent- and
 * trailing-space-insensitive collation.
 */
export const USERNAME_PATTERN = /^[a-z0-9._@-]{1,64}$/;

/**
 * The one spelling of a username: NFKC (fullwidth `ＡＤＡＭ` → `ADAM`), trimmed, lower-cased. Every
 * way of typing a name that the database would call equal maps to the same stored name, so a
 * name cannot be registered twice and a login limit keyed on it cannot be dodged by respelling it.
 */
export function normaliseUsername(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

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
   * Creates a user under the normalised name. @throws Error on a malformed username or role, or
   * when the name is taken (the unique key decides, so two concurrent creations cannot both succeed).
   */
  async create(username: string, password: string, role: UserRole): Promise<UserRecord> {
    const name = checkUsername(username);
    if (!USER_ROLES.includes(role)) throw new Error(`role must be one of ${USER_ROLES.join(', ')}`);
    if (password.length === 0) throw new Error('the password is empty');
    const hash = await hashPassword(password);
    try {
      return await this.db.transaction(async (sql) => {
        const existing = await sql.rows('SELECT id FROM users WHERE username = ?', [name]);
        if (existing.length > 0) throw new Error(`user "${name}" exists already`);
        return this.insertIn(sql, name, hash, role);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`user "${name}" exists already`, { cause: error });
      throw error;
    }
  }

  /**
   * Creates `username` as admin if, and only if, there is no user at all: the count and the insert
   * are one write transaction, so a concurrent writer cannot slip in between them.
   * @returns the new admin, or undefined when users existed already.
   */
  async createFirstAdmin(username: string, password: string): Promise<UserRecord | undefined> {
    const name = checkUsername(username);
    if (password.length === 0) throw new Error('the password is empty');
    if ((await this.count()) > 0) return undefined;
    const hash = await hashPassword(password);
    try {
      return await this.db.transaction(async (sql) => {
        if (num((await sql.rows('SELECT COUNT(*) AS n FROM users'))[0]?.n ?? 0) > 0) return undefined;
        return this.insertIn(sql, name, hash, 'admin');
      });
    } catch (error) {
      // Two web admins starting at once on MariaDB with the same first admin: the other one won.
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /** The user of a name (normalised first), or undefined. */
  async find(username: string): Promise<UserRecord | undefined> {
    return (await this.loginCandidate(username))?.user;
  }

  count(): Promise<number> {
    return this.db.read(async (sql) => num((await sql.rows('SELECT COUNT(*) AS n FROM users'))[0]?.n ?? 0));
  }

  /**
   * The account a typed login name refers to: normalised, then looked up exactly. Only a stored
   * name equal to the normal form counts, whatever else the column's collation calls equal.
   */
  async loginCandidate(username: string): Promise<LoginCandidate | undefined> {
    const name = normaliseUsername(username);
    if (!USERNAME_PATTERN.test(name)) return undefined;
    const row = await this.db.read(async (sql) => (await sql.rows('SELECT id, username, role, created_at, password_hash FROM users WHERE username = ?', [name]))[0]);
    if (row === undefined || String(row.username) !== name) return undefined;
    return { user: toUser(row), passwordHash: String(row.password_hash) };
  }

  /** The candidate's user when `password` is theirs, else undefined; no candidate costs a hash too. */
  async checkPassword(candidate: LoginCandidate | undefined, password: string): Promise<UserRecord | undefined> {
    if (candidate === undefined) {
      decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await decoyHash);
      return undefined;
    }
    return (await verifyPassword(password, candidate.passwordHash)) ? candidate.user : undefined;
  }

  /** The user when `password` is theirs, else undefined; unknown names cost a hash too. */
  async verify(username: string, password: string): Promise<UserRecord | undefined> {
    return this.checkPassword(await this.loginCandidate(username), password);
  }

  /**
   * Creates an API token for the user with a scope and an expiry (at most
   * {@link MAX_TOKEN_LIFETIME_MS} ahead). @returns the token itself, shown once and never stored.
   * @throws Error naming the bad option.
   */
  async createToken(userId: number, name: string, options: { scope: TokenScope; expiresAt: number }): Promise<string> {
    const now = this.clock.now();
    if (name.length === 0 || name.length > 100) throw new Error('name: 1–100 characters');
    if (!TOKEN_SCOPES.includes(options.scope)) throw new Error(`scope: must be one of ${TOKEN_SCOPES.join(', ')}`);
    if (!Number.isSafeInteger(options.expiresAt) || options.expiresAt <= now || options.expiresAt > now + MAX_TOKEN_LIFETIME_MS) {
      throw new Error('expiry: must be in the future and at most 365 days ahead');
    }
    const token = `iotw_${randomBytes(32).toString('base64url')}`;
    await this.db.transaction((sql) =>
      sql.execute('INSERT INTO api_tokens (token_hash, user_id, name, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
        tokenHash(token),
        userId,
        name,
        options.scope,
        now,
        options.expiresAt,
      ]),
    );
    return token;
  }

  /**
   * The token's user and scope, noting the use (at most once a minute); undefined for a token that
   * is unknown, revoked or expired. A token without an expiry counts as expired (fail closed).
   */
  async verifyToken(token: string): Promise<TokenUse | undefined> {
    const hash = tokenHash(token);
    const now = this.clock.now();
    const row = await this.db.read(
      async (sql) =>
        (
          await sql.rows(
            `SELECT t.id AS token_id, t.scope, t.expires_at, t.revoked_at, t.last_used_at, u.id, u.username, u.role, u.created_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`,
            [hash],
          )
        )[0],
    );
    if (row === undefined || numOrNull(row.revoked_at) !== null) return undefined;
    const expiresAt = numOrNull(row.expires_at);
    if (expiresAt === null || expiresAt <= now) return undefined;
    const tokenId = num(row.token_id);
    const lastUsed = numOrNull(row.last_used_at);
    // Reads stay reads: the write happens only when the recorded use is stale.
    if (lastUsed === null || now - lastUsed >= LAST_USE_RESOLUTION_MS) {
      await this.db.transaction((sql) =>
        sql.execute('UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [now, tokenId, now - LAST_USE_RESOLUTION_MS]),
      );
    }
    return { user: toUser(row), tokenId, scope: scopeOf(row.scope) };
  }

  /** Every token (of one user when given), newest first. */
  listTokens(userId?: number): Promise<TokenRecord[]> {
    const now = this.clock.now();
    return this.db.read(async (sql) => {
      const where = userId === undefined ? '' : 'WHERE t.user_id = ?';
      const rows = await sql.rows(
        `SELECT t.id, t.user_id, u.username, t.name, t.scope, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id ${where} ORDER BY t.created_at DESC, t.id DESC`,
        userId === undefined ? [] : [userId],
      );
      return rows.map((r) => toToken(r, now));
    });
  }

  /** Revokes a token (again is a no-op that keeps the first time). @returns it, or undefined when unknown. */
  async revokeToken(id: number): Promise<TokenRecord | undefined> {
    const now = this.clock.now();
    await this.db.transaction((sql) => sql.execute('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id]));
    return (await this.listTokens()).find((t) => t.id === id);
  }

  private async insertIn(sql: Sql, username: string, hash: string, role: UserRole): Promise<UserRecord> {
    const createdAt = this.clock.now();
    const { insertId } = await sql.execute('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)', [username, hash, role, createdAt]);
    return { id: num(insertId), username, role, createdAt };
  }
}

/** The normalised name, or an Error saying what a username may be. */
function checkUsername(username: string): string {
  const name = normaliseUsername(username);
  if (!USERNAME_PATTERN.test(name)) throw new Error('a username is 1–64 of a–z 0–9 . _ @ - (upper case and fullwidth letters are folded to these)');
  return name;
}

function isUniqueViolation(error: unknown): boolean {
  const codes = [error, (error as { driverError?: unknown } | null)?.driverError].map((e) => (e as { code?: unknown } | null)?.code);
  return codes.some((code) => code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE');
}

function scopeOf(value: unknown): TokenScope {
  // Anything but a known full scope is read-only: an unexpected value must not grant more.
  return value === 'full' ? 'full' : 'read';
}

function toUser(r: Row): UserRecord {
  // Only a stored `admin` is one: an unexpected value must not grant more than viewing.
  return { id: num(r.id), username: String(r.username), role: r.role === 'admin' ? 'admin' : 'viewer', createdAt: num(r.created_at) };
}

function toToken(r: Row, now: number): TokenRecord {
  const expiresAt = numOrNull(r.expires_at);
  const revokedAt = numOrNull(r.revoked_at);
  const state = revokedAt !== null ? 'revoked' : expiresAt === null || expiresAt <= now ? 'expired' : 'active';
  return {
    id: num(r.id),
    userId: num(r.user_id),
    username: String(r.username),
    name: String(r.name),
    scope: scopeOf(r.scope),
    createdAt: num(r.created_at),
    expiresAt,
    revokedAt,
    lastUsedAt: numOrNull(r.last_used_at),
    state,
  };
}
