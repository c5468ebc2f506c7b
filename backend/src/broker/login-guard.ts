import type { ClientIdRefusal } from './client-id-rule.ts';
import { HashGate, type HashGateOptions } from './hash-gate.ts';
import type { ClientIdentity } from './identity.ts';
import { type LoginLimits, LoginThrottle, type ThrottleRefusal } from './login-throttle.ts';
import type { AuthRefusal, BrokerPolicy } from './policy.ts';
import type { MonotonicClock } from './token-bucket.ts';

/** One CONNECT as the broker saw it. */
export interface LoginAttempt {
  username: string | undefined;
  password: Buffer | string | undefined;
  clientId: string;
  /** Set when the client sent an empty id and the broker assigned `clientId` [MQTT-3.1.3-6]. */
  assigned?: { cleanSession: boolean };
  remoteAddress: string | undefined;
}

/** `throttled`: over a failure limit, not hashed. `busy`: too many logins waiting for a hash. */
export type LoginRefusal = AuthRefusal | ClientIdRefusal | 'throttled' | 'busy';

export type LoginOutcome =
  | { ok: true; identity: ClientIdentity }
  | { ok: false; reason: Exclude<LoginRefusal, 'throttled'> }
  | { ok: false; reason: 'throttled'; limit: ThrottleRefusal; address: string; refusedInARow: number };

export interface LoginGuardOptions {
  policy: BrokerPolicy;
  limits?: Partial<LoginLimits>;
  hashing?: Partial<HashGateOptions>;
  clock?: MonotonicClock;
}

/**
 * Everything a CONNECT goes through before it is admitted, in an order that keeps refusals cheap:
 * the failure limits (no hashing when over them), then the password hash in a bounded, prioritised
 * slot (hash-gate.ts), then the client id rule (client-id-rule.ts). Free of any broker library.
 */
export class LoginGuard {
  private readonly policy: BrokerPolicy;
  private readonly throttle: LoginThrottle;
  private readonly gate: HashGate;

  constructor(options: LoginGuardOptions) {
    this.policy = options.policy;
    this.throttle = new LoginThrottle({ ...options.limits, isKnownUser: (name) => options.policy.isKnownUser(name), ...(options.clock === undefined ? {} : { clock: options.clock }) });
    this.gate = new HashGate(options.hashing);
  }

  async login(attempt: LoginAttempt): Promise<LoginOutcome> {
    const { username } = attempt;
    if (username === undefined || username === '') {
      // No password to guess: anonymous is admitted or refused by configuration, without a hash.
      const result = await this.policy.authenticate(username, attempt.password);
      return result.ok ? this.withClientId(result.identity, attempt) : result;
    }
    const reserved = this.throttle.begin(username, attempt.remoteAddress);
    if (!reserved.ok) return { ok: false, reason: 'throttled', limit: reserved.reason, address: reserved.address, refusedInARow: reserved.refusedInARow };
    const { ticket } = reserved;
    const hashed = this.gate.run(ticket.trusted ? 'trusted' : 'other', () => this.policy.authenticate(username, attempt.password));
    if (hashed === undefined) {
      this.throttle.abandoned(ticket);
      return { ok: false, reason: 'busy' };
    }
    let result: Awaited<typeof hashed>;
    try {
      result = await hashed;
    } catch (error) {
      this.throttle.abandoned(ticket);
      throw error;
    }
    if (!result.ok) {
      this.throttle.failed(ticket);
      return result;
    }
    this.throttle.succeeded(ticket);
    return this.withClientId(result.identity, attempt);
  }

  private withClientId(identity: ClientIdentity, attempt: LoginAttempt): LoginOutcome {
    const decision = this.policy.authorizeClientId(identity, attempt.clientId, attempt.assigned);
    return decision.ok ? { ok: true, identity } : { ok: false, reason: decision.reason };
  }

  /** Hashes running and waiting. */
  hashLoad(): ReturnType<HashGate['load']> {
    return this.gate.load();
  }
}
