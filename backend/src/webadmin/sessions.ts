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

/**
 * Failed logins per key (client address + username) in a sliding window: after `maxFailures`
 * within `windowMs` further attempts are refused until the oldest failure leaves the window,
 * so password guessing runs at most `maxFailures` per window per account and address.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(clock: Clock, maxFailures: number, windowMs: number) {
    this.clock = clock;
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
  }

  /** Seconds until the key may try again, or 0 when it may try now. */
  retryAfterSeconds(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.maxFailures) return 0;
    const oldest = recent[recent.length - this.maxFailures] ?? this.clock.now();
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.clock.now()) / 1000));
  }

  recordFailure(key: string): void {
    const recent = this.recent(key);
    recent.push(this.clock.now());
    this.failures.set(key, recent);
  }

  /** A successful login forgets the key's failures. */
  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.clock.now() - this.windowMs;
    const recent = (this.failures.get(key) ?? []).filter((at) => at > since);
    if (recent.length === 0) this.failures.delete(key);
    return recent;
  }
}
