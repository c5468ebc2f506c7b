export { AedesPolicyHooks, type ConnectionInfo, PolicyRefusalError } from './aedes-hooks.ts';
export { addressKey } from './address-key.ts';
export { type ClientIdRefusal, ClientIdRule, deviceClientId } from './client-id-rule.ts';
export { type BrokerListenOptions, BrokerService, type BrokerServiceOptions } from './broker-service.ts';
export { type BrokerConfig, brokerConfigSchema, brokerEnv, maxPacketBytes, parseBrokerConfig } from './config.ts';
export {
  type CredentialFile,
  CredentialSet,
  type CredentialUser,
  credentialFile,
  credentialUser,
  loadCredentialFile,
  loadCredentials,
  parseCredentials,
  saveCredentialFile,
  USERNAME_PATTERN,
} from './credentials.ts';
export { DEFAULT_HASH_GATE, HashGate, type HashGateOptions, type HashLane } from './hash-gate.ts';
export { type LoginAttempt, LoginGuard, type LoginGuardOptions, type LoginOutcome, type LoginRefusal } from './login-guard.ts';
export { DEFAULT_LOGIN_LIMITS, type LoginLimits, LoginThrottle, type LoginThrottleOptions, type LoginTicket, type ThrottleRefusal } from './login-throttle.ts';
export { findDynamicSecurityPlugin, renderMosquittoClientIds } from './mosquitto-client-ids.ts';
export {
  type MosquittoAclOptions,
  type MosquittoConfOptions,
  type MosquittoFiles,
  type MosquittoFilesOptions,
  renderMosquittoAcl,
  renderMosquittoConf,
  writeMosquittoFiles,
} from './mosquitto-config.ts';
export { MalformedLengthError, MqttFrameMeter, PacketSizeGuard, PacketTooLargeError } from './packet-size-guard.ts';
export { PublishBackpressure } from './publish-backpressure.ts';
export { DEFAULT_SESSION_QUEUE_LIMIT, type SessionPersistence, SessionQueues } from './session-queues.ts';
export { type MonotonicClock, monotonicClock, type TokenBucketOptions, TokenBuckets } from './token-bucket.ts';
export { hashPassword, PASSWORD_HASH_PATTERN, passwordHashProblem, SCRYPT_DEFAULTS, verifyPassword } from './password-hash.ts';
export {
  type AuthRefusal,
  type AuthResult,
  BrokerPolicy,
  type BrokerPolicyOptions,
  type ClientIdentity,
  type Decision,
  type PublishRefusal,
  deviceTopics,
  type SubscribeRefusal,
} from './policy.ts';
