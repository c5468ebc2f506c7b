import { HttpError } from './http-error.ts';

/** How many live streams (GET /api/events) may be open, and for whom. */
export interface StreamLimits {
  /** Open streams at most, everyone together. */
  total: number;
  /** Per user, all sessions and tokens together. */
  perUser: number;
  /** Per session (tabs share a session cookie) or per API token. */
  perSession: number;
  /** Of `total`, slots only admins may take: viewers together never get more than the rest. */
  adminReserve: number;
}

/**
 * Browsers open at most 6 connections per host over HTTP/1.1, so 6 tabs of one session is all a
 * person uses; 12 per user allows a second device. 20 of 200 stay for admins.
 */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { total: 200, perUser: 12, perSession: 6, adminReserve: 20 };

/** Who wants a stream. */
export interface StreamHolder {
  userId: number;
  /** The session id or the API token id, prefixed so the two never collide. */
  sessionKey: string;
  admin: boolean;
}

/**
 * Slots for live streams. Without per-user and per-session limits one viewer token holding every
 * slot locked all admins out; now a user, a session and the viewers as a whole each have a
 * ceiling, and the admins' reserve can only be used by admins.
 */
export class StreamSlots {
  private readonly limits: StreamLimits;
  private total = 0;
  private viewers = 0;
  private readonly byUser = new Map<number, number>();
  private readonly bySession = new Map<string, number>();

  constructor(limits: StreamLimits = DEFAULT_STREAM_LIMITS) {
    this.limits = limits;
  }

  get open(): number {
    return this.total;
  }

  /**
   * Takes a slot. @returns the function that gives it back (calling it again does nothing).
   * @throws HttpError 429 when the session or user has its share, 503 when the slots (for viewers,
   * the viewers' slots) are all taken.
   */
  acquire(holder: StreamHolder): () => void {
    const { total, perUser, perSession, adminReserve } = this.limits;
    const ofSession = this.bySession.get(holder.sessionKey) ?? 0;
    const ofUser = this.byUser.get(holder.userId) ?? 0;
    if (ofSession >= perSession) throw new HttpError(429, 'too_many_streams', `at most ${perSession} live streams per session or API token; close another tab first`, { 'Retry-After': '30' });
    if (ofUser >= perUser) throw new HttpError(429, 'too_many_streams', `at most ${perUser} live streams per user; close another one first`, { 'Retry-After': '30' });
    if (this.total >= total || (!holder.admin && this.viewers >= total - adminReserve)) {
      throw new HttpError(503, 'streams_full', 'all live stream slots are taken; try again later', { 'Retry-After': '30' });
    }
    this.total++;
    if (!holder.admin) this.viewers++;
    this.bySession.set(holder.sessionKey, ofSession + 1);
    this.byUser.set(holder.userId, ofUser + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      if (!holder.admin) this.viewers--;
      decrement(this.bySession, holder.sessionKey);
      decrement(this.byUser, holder.userId);
    };
  }
}

function decrement<K>(counts: Map<K, number>, key: K): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}
