import type { NextFunction, Request, Response } from 'express';
import type { UserRecord, UserStore } from '../db/index.ts';
import type { TokenScope, UserRole } from '../db/user-store.ts';
import { HttpError } from './http-error.ts';
import type { Session, SessionStore } from './sessions.ts';

export const SESSION_COOKIE = 'iot_session';
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Who made the request and how: a browser session (CSRF applies) or an API token (no cookie, no
 * CSRF). `role` is what the request may do: the user's role, except that a read-scoped token is
 * a viewer whatever its user is.
 */
export type Principal =
  | { user: UserRecord; role: UserRole; session: Session; token: undefined }
  | { user: UserRecord; role: UserRole; session: undefined; token: { id: number; scope: TokenScope } };

/** Headers on every response (OWASP Secure Headers): no foreign scripts, no sniffing, no framing, no referrer leaks. */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
}

/** The value of one cookie from the Cookie header (RFC 6265 §5.4), undefined when absent. */
export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value for a session id; `maxAgeSeconds` 0 deletes the cookie. */
export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates a request: `Authorization: Bearer <token>` first, else the session cookie. A
 * state-changing request on a session needs the session's CSRF token in X-CSRF-Token: a cookie
 * rides along on a cross-site form post, a custom header cannot (OWASP CSRF cheat sheet).
 * @throws HttpError 401 without valid credentials, 403 on a missing or wrong CSRF token.
 */
export async function authenticate(req: Request, users: UserStore, sessions: SessionStore): Promise<Principal> {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(authorization);
    const use = match?.[1] === undefined ? undefined : await users.verifyToken(match[1]);
    if (use === undefined) throw new HttpError(401, 'unauthenticated', 'the API token is not valid (unknown, expired or revoked)');
    // Refused here for every route, so a read-only token stays read-only whatever a route checks.
    if (use.scope === 'read' && !SAFE_METHODS.has(req.method)) {
      throw new HttpError(403, 'read_only_token', 'Authorization: this API token has scope read; changes need a token with scope full');
    }
    return { user: use.user, role: use.scope === 'read' ? 'viewer' : use.user.role, session: undefined, token: { id: use.tokenId, scope: use.scope } };
  }
  const id = readCookie(req, SESSION_COOKIE);
  const session = id === undefined ? undefined : sessions.get(id);
  if (session === undefined) throw new HttpError(401, 'unauthenticated', 'log in first (POST /login) or send an API token');
  if (!SAFE_METHODS.has(req.method) && !sameToken(req.get(CSRF_HEADER), session.csrfToken)) {
    throw new HttpError(403, 'csrf', 'missing or wrong X-CSRF-Token header; GET /api/session gives the token');
  }
  return { user: session.user, role: session.user.role, session, token: undefined };
}

function sameToken(given: string | undefined, expected: string): boolean {
  // Both are our own base64url tokens of fixed length; a length mismatch is simply "wrong".
  if (given === undefined || given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

/** The principal authenticate() stored for this request. */
export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/** Refuses a request of a user below `admin`. */
export function requireAdmin(_req: Request, res: Response, next: NextFunction): void {
  const principal = principalOf(res);
  if (principal.role !== 'admin') {
    const why = principal.user.role === 'admin' ? 'this needs the admin role (the API token has scope read)' : 'this needs the admin role';
    throw new HttpError(403, 'forbidden', why);
  }
  next();
}
