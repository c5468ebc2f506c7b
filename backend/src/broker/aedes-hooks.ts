import type { Logger } from '@iot/common/log';
import type { AedesOptions, AuthenticateError, Client, Connection } from 'aedes';
import type { AuthRefusal, BrokerPolicy, ClientIdentity } from './policy.ts';

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
 * credentials were given and are wrong, 5 "not authorized" for a client that gave none. aedes 1.x
 * speaks 3.1/3.1.1 only; a 5.0 client already gets 1 "unacceptable protocol version" [MQTT-3.1.2-2].
 */
const CONNACK_CODE: Record<AuthRefusal, 4 | 5> = {
  anonymous_not_allowed: 5,
  unknown_user: 4,
  missing_password: 4,
  wrong_password: 4,
};

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
  private readonly logger: Logger;
  private readonly identities = new WeakMap<Client, ClientIdentity>();
  private readonly connections = new WeakMap<Connection, ConnectionInfo>();

  constructor(policy: BrokerPolicy, logger: Logger) {
    this.policy = policy;
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

  identityOf(client: Client): ClientIdentity | undefined {
    return this.identities.get(client);
  }

  /** The hooks, ready to spread into aedes options. */
  options(): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
    return {
      authenticate: (client, username, password, done) => {
        this.policy.authenticate(username, password).then(
          (result) => {
            if (result.ok) {
              this.identities.set(client, result.identity);
              done(null, true);
              return;
            }
            const returnCode = CONNACK_CODE[result.reason];
            this.logger.warn({ event: 'auth_refused', ...this.describe(client), username, reason: result.reason, returnCode }, 'connection refused');
            const error = Object.assign(new PolicyRefusalError('connect', result.reason), { returnCode }) as AuthenticateError;
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
          done(null);
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
}
