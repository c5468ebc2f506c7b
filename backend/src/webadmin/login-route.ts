import type { Logger } from '@iot/common/log';
import type { Request, Response } from 'express';
import type { Database } from '../db/index.ts';
import { normaliseUsername } from '../db/user-store.ts';
import { HttpError } from './http-error.ts';
import type { LoginLimiter } from './login-limiter.ts';
import { sessionCookie } from './security.ts';
import type { SessionStore } from './sessions.ts';

export interface LoginRouteOptions {
  db: Database;
  sessions: SessionStore;
  limiter: LoginLimiter;
  logger: Logger;
  /** Session lifetime, for the cookie's Max-Age. */
  ttlMs: number;
  secureCookies: boolean;
}

/** Typed names longer than this are refused before normalising (NFKC can lengthen a text). */
const MAX_TYPED_USERNAME = 256;

/**
 * POST /login (JSON or form body). The attempt is reserved in the limiter before the password
 * hash is checked, so concurrent guesses cannot all pass a limit none has yet counted; the key is
 * the client address and the account the name resolves to (its id), so `ADAM`, `adam `,
 * `ａｄａｍ` share one budget with `adam`. A name of no account is keyed by its normal form.
 */
export function loginRoute(options: LoginRouteOptions) {
  const { db, sessions, limiter, logger } = options;
  return async (req: Request, res: Response): Promise<void> => {
    const { username, password } = (req.body ?? {}) as Record<string, unknown>;
    if (typeof username !== 'string' || username === '' || username.length > MAX_TYPED_USERNAME) {
      throw new HttpError(400, 'invalid_request', 'username: required, a text of 1–64 characters');
    }
    if (typeof password !== 'string' || password === '' || password.length > 1024) throw new HttpError(400, 'invalid_request', 'password: required, a text of 1–1024 characters');
    const candidate = await db.users.loginCandidate(username);
    const account = candidate === undefined ? `name:${normaliseUsername(username)}` : `user:${candidate.user.id}`;
    const key = `${req.ip ?? 'unknown'}|${account}`;
    const attempt = limiter.reserve(key);
    if (!attempt.ok) {
      const wait = attempt.retryAfterSeconds;
      throw new HttpError(429, 'too_many_attempts', `too many failed logins; try again in ${wait} s`, { 'Retry-After': String(wait) });
    }
    let user: Awaited<ReturnType<typeof db.users.checkPassword>>;
    try {
      user = await db.users.checkPassword(candidate, password);
    } catch (error) {
      attempt.release();
      throw error;
    }
    const name = candidate?.user.username ?? normaliseUsername(username);
    if (user === undefined) {
      logger.warn({ event: 'login_failed', username: name, ip: req.ip }, 'login failed');
      throw new HttpError(401, 'login_failed', 'wrong username or password');
    }
    limiter.reset(key);
    const session = sessions.create(user);
    logger.info({ event: 'login', username: name, ip: req.ip }, 'logged in');
    res.setHeader('Set-Cookie', sessionCookie(session.id, Math.floor(options.ttlMs / 1000), options.secureCookies));
    res.json({ user: { username: user.username, role: user.role }, csrfToken: session.csrfToken });
  };
}
