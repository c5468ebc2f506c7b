import { createHash } from 'node:crypto';
import { addressKey } from './address-key.ts';
import { type MonotonicClock, monotonicClock, TokenBuckets } from './token-bucket.ts';

/**
 * Limits password guessing over MQTT (OWASP Authentication Cheat Sheet, "Protect against
 * automated attacks"; NIST SP 800-63B §5.2.2 "Rate Limiting (Throttling)"). Each remote address
 * and each username has a bucket of `burst` failures that regains one every `refillMs`; a failed
 * login spends one from both, a successful one spends nothing. Once either is empty, a CONNECT is
 * refused before any hashing, right password or not.
 *
 * Concurrency: logins whose outcome is still open are not known failures yet. Up to
 * `maxInFlightPerAddress` of them may run at once from one address (a NAT'd fleet reconnecting
 * after a broker restart is legitimate), and each that fails still spends, driving the bucket into
 * debt (down to −maxInFlightPerAddress) that the refill must pay off. So a wave of concurrent
 * guesses costs at most that many hashes once, and then a longer wait.
 *
 * Lockout: limiting by username alone would let anyone lock a device out by guessing its password
 * from elsewhere. A username that logged in successfully from an address is trusted from that
 * address and skips the username limit there, though never the address limit. A device that
 * reconnects from where it connected before stays unaffected by a flood against its username
 * from other addresses.
 */
export interface LoginLimits {
  /** Failed logins an address, or a username, may have in a burst. */
  burst: number;
  /** Milliseconds until one more failure is allowed. */
  refillMs: number;
  /** Logins with an open outcome one address may have at once. */
  maxInFlightPerAddress: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { burst: 10, refillMs: 6_000, maxInFlightPerAddress: 128 };

export interface LoginThrottleOptions extends Partial<LoginLimits> {
  /** Whether a username is in the credential file; unknown names are throttled too, in bounded memory. */
  isKnownUser: (username: string) => boolean;
  clock?: MonotonicClock;
  /** Most addresses, unknown usernames and trusted (username, address) pairs remembered. */
  maxKeys?: number;
}

/** `too_many_at_once`: the address, or the username, already has its share of open logins. */
export type ThrottleRefusal = 'address_throttled' | 'username_throttled' | 'too_many_at_once';

/** An admitted login with an open outcome; settle it exactly once. */
export interface LoginTicket {
  readonly address: string;
  readonly username: string;
  /** Whether this (username, address) pair logged in before, so the username limit was skipped. */
  readonly trusted: boolean;
  /** The username's bucket key, unless trusted. */
  readonly usernameKey: string | undefined;
  settled: boolean;
}

export type ThrottleDecision = { ok: true; ticket: LoginTicket } | { ok: false; reason: ThrottleRefusal; address: string; refusedInARow: number };

export class LoginThrottle {
  private readonly limits: LoginLimits;
  private readonly isKnownUser: (username: string) => boolean;
  private readonly byAddress: TokenBuckets;
  private readonly byKnownUser: TokenBuckets;
  private readonly byUnknownUser: TokenBuckets;
  private readonly inFlight = new Map<string, number>();
  private readonly trusted = new Set<string>();
  private readonly maxKeys: number;
  /** Refusals since the last admitted attempt, per address, for sampled logging. */
  private readonly refusals = new Map<string, number>();

  constructor(options: LoginThrottleOptions) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...definedOnly(options) };
    const clock = options.clock ?? monotonicClock;
    this.maxKeys = options.maxKeys ?? 50_000;
    this.isKnownUser = options.isKnownUser;
    const buckets = () => new TokenBuckets({ capacity: this.limits.burst, refillMs: this.limits.refillMs, maxKeys: this.maxKeys, clock });
    this.byAddress = buckets();
    this.byKnownUser = buckets();
    this.byUnknownUser = buckets();
  }

  /** Admits one login for `username` from `remoteAddress`, or says why not. Does not hash. */
  begin(username: string, remoteAddress: string | undefined): ThrottleDecision {
    const address = addressKey(remoteAddress);
    const trusted = this.trusted.has(pairKey(username, address));
    // Unknown names can be arbitrarily long (MQTT allows 65,535 bytes); key them by a digest.
    const usernameKey = trusted ? undefined : this.isKnownUser(username) ? username : createHash('sha256').update(username).digest('base64');
    if (usernameKey !== undefined && this.users(username).available(usernameKey) < 1) return this.refuse('username_throttled', address);
    if (this.byAddress.available(address) < 1) return this.refuse('address_throttled', address);
    if (this.open(`a ${address}`) >= this.limits.maxInFlightPerAddress) return this.refuse('too_many_at_once', address);
    if (usernameKey !== undefined && this.open(`u ${usernameKey}`) >= this.limits.burst) return this.refuse('too_many_at_once', address);
    this.count(`a ${address}`, 1);
    if (usernameKey !== undefined) this.count(`u ${usernameKey}`, 1);
    this.refusals.delete(address);
    return { ok: true, ticket: { address, username, trusted, usernameKey, settled: false } };
  }

  /** The credentials were right: nothing is spent, and this pair is trusted from now on. */
  succeeded(ticket: LoginTicket): void {
    if (!this.settle(ticket)) return;
    const key = pairKey(ticket.username, ticket.address);
    this.trusted.delete(key);
    if (this.trusted.size >= this.maxKeys) this.trusted.delete(this.trusted.values().next().value!);
    this.trusted.add(key); // a Set keeps insertion order, so the oldest pair goes first
  }

  /** The credentials were wrong: one failure is spent from the address and the username. */
  failed(ticket: LoginTicket): void {
    if (!this.settle(ticket)) return;
    const floor = -this.limits.maxInFlightPerAddress;
    this.byAddress.spend(ticket.address, floor);
    if (ticket.usernameKey !== undefined) this.users(ticket.username).spend(ticket.usernameKey, floor);
  }

  /** Nothing was decided (no hashing slot, or an error of ours): nothing is spent. */
  abandoned(ticket: LoginTicket): void {
    this.settle(ticket);
  }

  private users(username: string): TokenBuckets {
    return this.isKnownUser(username) ? this.byKnownUser : this.byUnknownUser;
  }

  private settle(ticket: LoginTicket): boolean {
    if (ticket.settled) return false;
    ticket.settled = true;
    this.count(`a ${ticket.address}`, -1);
    if (ticket.usernameKey !== undefined) this.count(`u ${ticket.usernameKey}`, -1);
    return true;
  }

  private open(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }

  /** In-flight counts; an entry lives only while a login is open, so the map stays small. */
  private count(key: string, delta: number): void {
    const value = this.open(key) + delta;
    if (value <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, value);
  }

  private refuse(reason: ThrottleRefusal, address: string): ThrottleDecision {
    const refusedInARow = (this.refusals.get(address) ?? 0) + 1;
    if (this.refusals.size >= this.maxKeys && !this.refusals.has(address)) this.refusals.clear(); // only feeds log sampling
    this.refusals.set(address, refusedInARow);
    return { ok: false, reason, address, refusedInARow };
  }
}

function pairKey(username: string, address: string): string {
  return `${address}\n${username}`;
}

function definedOnly(limits: Partial<LoginLimits>): Partial<LoginLimits> {
  const picked = { burst: limits.burst, refillMs: limits.refillMs, maxInFlightPerAddress: limits.maxInFlightPerAddress };
  return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
}
