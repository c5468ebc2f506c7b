import type { Logger } from '@iot/common/log';
import type { AedesOptions, AuthenticateError, Client, Connection } from 'aedes';
import { LoginGuard, type LoginGuardOptions, type LoginOutcome, type LoginRefusal } from './login-guard.ts';
import type { BrokerPolicy, ClientIdentity } from './policy.ts';
import type { PublishBackpressure } from './publish-backpressure.ts';

/** How a connection reached the broker, for log lines. */
export interface ConnectionInfo {
  transport: 'tcp' | 'tls' | 'ws';
  remoteAddress: string | undefined;
}

/** Errors our hooks hand to aedes; they are logged where they arise, so the error events skip them. */
export class PolicyRefusalError extends Error {
  readonly reason: string;
  constructor(what: string, reason: string) {
    super(`${what} refused: ${reason}`);
    this.name = 'PolicyRefusalError';
    this.reason = reason;
  }
}

/**
 * CONNACK return codes (MQTT 3.1.1 §3.2.2.3, Table 3.1): 4 "bad user name or password" when
 * credentials were given and are wrong, 5 "not authorized" for a client that gave none, 2
 * "identifier rejected" for a client id that is not the user's [MQTT-3.1.3-9], and 3 "server
 * unavailable" when the credentials were not even checked (over the failure limit, or too many
 * logins waiting for a hash): a right password must not be told it is wrong. aedes 1.x speaks
 * 3.1/3.1.1 only; a 5.0 client already gets 1 "unacceptable protocol version" [MQTT-3.1.2-2].
 */
const CONNACK_CODE: Record<LoginRefusal, 2 | 3 | 4 | 5> = {
  anonymous_not_allowed: 5,
  unknown_user: 4,
  missing_password: 4,
  wrong_password: 4,
  client_id_not_owned: 2,
  throttled: 3,
  busy: 3,
};

/** Over a limit an attacker can cause a refusal per packet; log the 1st, 10th, 100th, … in a row. */
function worthLogging(inARow: number): boolean {
  return Number.isInteger(Math.log10(inARow));
}

const MAX_LOGGED_TOPIC = 256;
function loggable(topic: string): string {
  return topic.length > MAX_LOGGED_TOPIC ? `${topic.slice(0, MAX_LOGGED_TOPIC)}…` : topic;
}

/**
 * Binds a {@link BrokerPolicy} to aedes's hooks and remembers each client's identity. Only this
 * file and broker-service.ts know aedes; everything else sees the policy.
 */
export class AedesPolicyHooks {
  private readonly policy: BrokerPolicy;
  private readonly guard: LoginGuard;
  private readonly logger: Logger;
  private busyInARow = 0;
  private backpressure: PublishBackpressure | undefined;
  private readonly identities = new WeakMap<Client, ClientIdentity>();
  private readonly connections = new WeakMap<Connection, ConnectionInfo>();
  /** Clients that sent an empty client id, so that aedes assigned theirs. */
  private readonly assignedIds = new WeakSet<Client>();

  constructor(policy: BrokerPolicy, logger: Logger, login: Omit<LoginGuardOptions, 'policy'> = {}) {
    this.policy = policy;
    this.guard = new LoginGuard({ ...login, policy });
    this.logger = logger;
  }

  /** Records where a connection came from; call before handing it to aedes. */
  register(connection: Connection, info: ConnectionInfo): void {
    this.connections.set(connection, info);
  }

  /** Fields that identify a client in log lines. */
  describe(client: Client | null | undefined): Record<string, unknown> {
    if (client === null || client === undefined) return {};
    const identity = this.identities.get(client);
    const info = client.conn === undefined ? undefined : this.connections.get(client.conn);
    return {
      clientId: client.id ?? undefined,
      username: identity?.username,
      role: identity?.role,
      deviceId: identity?.role === 'device' ? identity.deviceId : undefined,
      transport: info?.transport,
      remoteAddress: info?.remoteAddress,
    };
  }

  /** From now on, hold publishes back while a session they would be queued for is full. */
  holdPublishesWith(backpressure: PublishBackpressure): void {
    this.backpressure = backpressure;
  }

  identityOf(client: Client): ClientIdentity | undefined {
    return this.identities.get(client);
  }

  /** The hooks, ready to spread into aedes options. */
  options(): Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
    return {
      // Only the CONNECT packet tells an empty id from one that looks like aedes's own.
      preConnect: (client, packet, done) => {
        if (packet.clientId === '') this.assignedIds.add(client);
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        const remoteAddress = client.conn === undefined ? undefined : this.connections.get(client.conn)?.remoteAddress;
        // aedes has set client.id from the CONNECT, or to a random `aedes_…` id for an empty one [MQTT-3.1.3-6].
        const assigned = this.assignedIds.has(client) ? { cleanSession: client.clean } : undefined;
        this.guard.login({ username, password, clientId: client.id, remoteAddress, ...(assigned === undefined ? {} : { assigned }) }).then(
          (outcome) => {
            if (outcome.ok) {
              this.identities.set(client, outcome.identity);
              done(null, true);
              return;
            }
            const returnCode = CONNACK_CODE[outcome.reason];
            this.logRefusal(client, username, outcome, returnCode);
            const error = Object.assign(new PolicyRefusalError('connect', outcome.reason), { returnCode }) as AuthenticateError;
            done(error, false);
          },
          (error: unknown) => {
            this.logger.error({ event: 'auth_failed', ...this.describe(client), username, err: error }, 'authentication failed with an error');
            // 3 "server unavailable": the failure was ours, not the client's (3.1.1 §3.2.2.3).
            done(Object.assign(new Error('authentication failed'), { returnCode: 3 }) as AuthenticateError, false);
          },
        );
      },

      /*
       * A refused PUBLISH cannot be reported to a 3.1.1 client: the server "MUST either make a
       * positive acknowledgement, according to the normal QoS rules, or close the Network
       * Connection" [MQTT-3.3.5-2]. aedes closes the connection when this hook fails, before any
       * PUBACK, so the publisher sees a disconnect and its QoS 1 message stays unacknowledged.
       * (MQTT 5.0 §3.3.4 would allow PUBACK 0x87 "Not authorized"; aedes 1.x has no 5.0.)
       * The hook also runs for a client's Last Will, so a device cannot plant a will elsewhere.
       */
      authorizePublish: (client, packet, done) => {
        const identity = client === null ? undefined : this.identities.get(client);
        const payloadBytes = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
        const decision = identity === undefined ? ({ ok: false, reason: 'no_identity' } as const) : this.policy.authorizePublish(identity, packet.topic, payloadBytes);
        if (decision.ok) {
          this.admitPublish(client, packet, done);
          return;
        }
        this.logger.warn(
          { event: 'publish_refused', ...this.describe(client), topic: loggable(packet.topic), qos: packet.qos, payloadBytes, reason: decision.reason },
          'publish refused; closing the connection',
        );
        done(new PolicyRefusalError('publish', decision.reason));
      },

      /*
       * A refused subscription is answered in its SUBACK slot with 0x80 "Failure" (3.1.1 §3.9.3:
       * return codes 0x00–0x02 grant a QoS, 0x80 fails); the client stays connected and its other
       * filters are still granted. MQTT 5.0 §3.9.3 would use 0x87 "Not authorized"; aedes 1.x has no 5.0.
       */
      authorizeSubscribe: (client, subscription, done) => {
        const identity = this.identities.get(client);
        const decision = identity === undefined ? ({ ok: false, reason: 'no_identity' } as const) : this.policy.authorizeSubscribe(identity, subscription.topic);
        if (decision.ok) {
          done(null, subscription);
          return;
        }
        this.logger.warn({ event: 'subscribe_refused', ...this.describe(client), topic: loggable(subscription.topic), reason: decision.reason }, 'subscription refused');
        done(null, null);
      },
    };
  }

  private logRefusal(client: Client, username: string | undefined, outcome: Exclude<LoginOutcome, { ok: true }>, returnCode: number): void {
    const fields = { ...this.describe(client), username, returnCode };
    if (outcome.reason === 'throttled') {
      this.busyInARow = 0;
      if (worthLogging(outcome.refusedInARow)) {
        this.logger.warn({ event: 'auth_throttled', ...fields, limit: outcome.limit, address: outcome.address, refusedInARow: outcome.refusedInARow }, 'connection refused without checking: too many failed logins');
      }
    } else if (outcome.reason === 'busy') {
      this.busyInARow++;
      if (worthLogging(this.busyInARow)) this.logger.warn({ event: 'auth_busy', ...fields, refusedInARow: this.busyInARow, hashing: this.guard.hashLoad() }, 'connection refused: too many logins waiting');
    } else {
      this.busyInARow = 0;
      this.logger.warn({ event: 'auth_refused', ...fields, reason: outcome.reason }, 'connection refused');
    }
  }

  /**
   * Lets an authorised publish through, at once or once the sessions it would fill have room
   * (publish-backpressure.ts). A Last Will (published while its client closes) and the broker's
   * own publishes are never held: nobody is left to pause.
   */
  private admitPublish(client: Client | null, packet: { topic: string; qos: number }, done: (error?: Error | null) => void): void {
    const backpressure = this.backpressure;
    if (backpressure === undefined || client === null || client.closed || !backpressure.mayHold(packet.qos)) {
      done(null);
      return;
    }
    const onHeld = (sessions: string[]) =>
      this.logger.debug({ event: 'publish_held', ...this.describe(client), topic: loggable(packet.topic), sessions: sessions.slice(0, 10) }, 'publish held back: a session it goes to is full');
    backpressure.admit(client.id, packet.topic, packet.qos, () => !client.closed, onHeld).then(
      () => done(null),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  }
}
