export { AedesPolicyHooks, type ConnectionInfo, PolicyRefusalError } from './aedes-hooks.ts';
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
