import { randomBytes } from 'node:crypto';
import type { Clock } from '@iot/common/clock';
import type { UserRecord } from '../db/index.ts';

export interface Session {
  id: string;
  user: UserRecord;
  /** Sent back in X-CSRF-Token on every state-changing request (synchroniser token pattern). */
  csrfToken: string;
  expiresAt: number;
}

/** 128 bits or more from the CSPRNG, URL-safe: unguessable session ids and CSRF tokens. */
function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Sessions in memory: a restart logs everyone out, which is acceptable for an admin tool and
 * keeps session ids out of the database. Expired sessions are dropped when looked up or swept.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly clock: Clock;
  private readonly ttlMs: number;

  constructor(clock: Clock, ttlMs: number) {
    this.clock = clock;
    this.ttlMs = ttlMs;
  }

  /** A new session for `user` with fresh id and CSRF token. */
  create(user: UserRecord): Session {
    this.sweep();
    const session: Session = { id: randomToken(), user, csrfToken: randomToken(), expiresAt: this.clock.now() + this.ttlMs };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id, or undefined (unknown or expired). */
  get(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.clock.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
  }
}
