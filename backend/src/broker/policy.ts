import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, type TopicScheme } from '@iot/common/protocol';
import { type ClientIdRefusal, ClientIdRule } from './client-id-rule.ts';
import type { CredentialSet } from './credentials.ts';
import type { ClientIdentity, Decision } from './identity.ts';
import { SCRYPT_DEFAULTS, verifyPassword } from './password-hash.ts';

export type { ClientIdentity, Decision } from './identity.ts';

/**
 * Who may connect and which topics they may use (docs/security.md §2, §3), free of any broker library: the
 * aedes hooks call it, and the Mosquitto ACL renderer states the same rules as ACL lines.
 */

export type AuthRefusal = 'anonymous_not_allowed' | 'unknown_user' | 'missing_password' | 'wrong_password';
export type PublishRefusal = 'payload_too_large' | 'reserved_topic' | 'not_own_topic';
export type SubscribeRefusal = 'not_own_topic';

export type AuthResult = { ok: true; identity: ClientIdentity } | { ok: false; reason: AuthRefusal };

export interface BrokerPolicyOptions {
  credentials: CredentialSet;
  topics: TopicScheme;
  /** Largest PUBLISH payload anyone may send, in bytes, on every topic but a device's `values`. */
  maxPayloadBytes: number;
  /**
   * Largest payload on a device's `values` topic: an original device sends its whole backlog
   * there as one message (docs/protocol.md §9). `maxPayloadBytes` when omitted.
   */
  maxOriginalPayloadBytes?: number;
  /** Admit clients without a username, with service rights. Local development only. */
  allowAnonymous?: boolean;
}

/**
 * Verified against when the username is unknown, so an unknown user costs the same scrypt time as
 * a wrong password and response times do not reveal which usernames exist.
 */
const DUMMY_HASH = `scrypt$${SCRYPT_DEFAULTS.N}$${SCRYPT_DEFAULTS.r}$${SCRYPT_DEFAULTS.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;

/** Topics under `$SYS` are the broker's own (MQTT 3.1.1 §4.7.2, 5.0 §4.7.2); no client writes there. */
function isSysTopic(topic: string): boolean {
  return topic === '$SYS' || topic.startsWith('$SYS/');
}

export class BrokerPolicy {
  readonly allowAnonymous: boolean;
  readonly maxPayloadBytes: number;
  readonly maxOriginalPayloadBytes: number;
  private readonly credentials: CredentialSet;
  private readonly topics: TopicScheme;
  private readonly clientIds: ClientIdRule;

  constructor(options: BrokerPolicyOptions) {
    this.credentials = options.credentials;
    this.clientIds = new ClientIdRule(options.credentials);
    this.topics = options.topics;
    this.maxPayloadBytes = options.maxPayloadBytes;
    this.maxOriginalPayloadBytes = Math.max(options.maxOriginalPayloadBytes ?? options.maxPayloadBytes, options.maxPayloadBytes);
    this.allowAnonymous = options.allowAnonymous ?? false;
  }

  /**
   * Checks a CONNECT's username and password. A client without a username is anonymous (MQTT
   * 3.1.1 §3.1.2.8 lets the username flag be 0) and is admitted only when `allowAnonymous` is set.
   */
  async authenticate(username: string | undefined, password: Buffer | string | undefined): Promise<AuthResult> {
    if (username === undefined || username === '') {
      return this.allowAnonymous ? { ok: true, identity: { role: 'service', username: undefined } } : { ok: false, reason: 'anonymous_not_allowed' };
    }
    const user = this.credentials.find(username);
    const matches = await verifyPassword(password ?? '', user?.password_hash ?? DUMMY_HASH);
    if (user === undefined) return { ok: false, reason: 'unknown_user' };
    if (password === undefined || password.length === 0) return { ok: false, reason: 'missing_password' };
    if (!matches) return { ok: false, reason: 'wrong_password' };
    return {
      ok: true,
      identity: user.role === 'device' ? { role: 'device', username: user.username, deviceId: user.device_id } : { role: 'service', username: user.username },
    };
  }

  /** Whether `username` is in the credential file (for the login limits, which track unknown names apart). */
  isKnownUser(username: string): boolean {
    return this.credentials.find(username) !== undefined;
  }

  /**
   * May `identity` connect with `clientId`? Checked after the password, so only a holder of valid
   * credentials learns that an id is taken (rules in client-id-rule.ts).
   */
  authorizeClientId(identity: ClientIdentity, clientId: string, assigned?: { cleanSession: boolean }): Decision<ClientIdRefusal> {
    return this.clientIds.check(identity, clientId, assigned);
  }

  /**
   * May `identity` publish `payloadBytes` bytes on `topic`? Devices publish only on their own
   * DEVICE_PUBLISHES topics; services anywhere but `$SYS`; nobody beyond the payload limit of
   * the topic ({@link maxPayloadFor}). The caller decides how a refusal reaches the client
   * (3.1.1 §3.3.5 / 5.0 §3.3.4).
   */
  authorizePublish(identity: ClientIdentity, topic: string, payloadBytes: number): Decision<PublishRefusal> {
    if (payloadBytes > this.maxPayloadFor(topic)) return { ok: false, reason: 'payload_too_large' };
    if (isSysTopic(topic)) return { ok: false, reason: 'reserved_topic' };
    if (identity.role === 'service') return { ok: true };
    // Exact topics (never a template match), the same list the Mosquitto ACL grants.
    return deviceTopics(this.topics, identity.deviceId).publish.includes(topic) ? { ok: true } : { ok: false, reason: 'not_own_topic' };
  }

  /**
   * The payload limit of `topic`: the larger one on a device's `values` topic, where an original
   * device sends its whole backlog as one message (docs/protocol.md §9), the small one elsewhere.
   */
  maxPayloadFor(topic: string): number {
    return this.topics.match(topic)?.channel === 'values' ? this.maxOriginalPayloadBytes : this.maxPayloadBytes;
  }

  /** The largest payload any topic admits: what the connection's packet limit must let through. */
  get largestPayloadBytes(): number {
    return this.maxOriginalPayloadBytes;
  }

  /**
   * May `identity` subscribe with `filter`? A device gets exactly its own DEVICE_SUBSCRIBES topics
   * and the broadcast topic; a filter with `+` or `#` never equals one of them, so no wildcard can
   * reach another device's messages. Services may subscribe to anything.
   */
  authorizeSubscribe(identity: ClientIdentity, filter: string): Decision<SubscribeRefusal> {
    if (identity.role === 'service') return { ok: true };
    return deviceTopics(this.topics, identity.deviceId).subscribe.includes(filter) ? { ok: true } : { ok: false, reason: 'not_own_topic' };
  }
}

/**
 * The exact topics a device may publish on (its DEVICE_PUBLISHES channels) and subscribe to (its
 * DEVICE_SUBSCRIBES channels, including the broadcast topic). Both the policy and the Mosquitto
 * ACL renderer use this, so the two brokers grant the same rights.
 */
export function deviceTopics(topics: TopicScheme, deviceId: string): { publish: string[]; subscribe: string[] } {
  return {
    publish: DEVICE_PUBLISHES.map((channel) => topics.topic(channel, deviceId)),
    subscribe: DEVICE_SUBSCRIBES.map((channel) => topics.topic(channel, deviceId)),
  };
}
