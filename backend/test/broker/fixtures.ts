import { join } from 'node:path';
import { TopicScheme } from '@iot/common/protocol';
import { type Broker, BrokerProcess, MosquittoServer, makeTempDir } from '@iot/harness/processes';
import { type CredentialUser, saveCredentialFile } from '../../src/broker/credentials.ts';
import { hashPassword } from '../../src/broker/password-hash.ts';
import { maxPacketBytes } from '../../src/broker/config.ts';
import { writeMosquittoFiles } from '../../src/broker/mosquitto-config.ts';

/** Users every broker test knows, with their plain passwords. */
export const USERS = {
  dev1: { username: 'dev-1-user', password: 'dev-1 secret', role: 'device', deviceId: 'dev-1' },
  dev2: { username: 'dev-2-user', password: 'dev-2 secret', role: 'device', deviceId: 'dev-2' },
  backend: { username: 'backend', password: 'backend secret, with spaces', role: 'service' },
} as const;

/** Small, so the oversize tests stay quick; the same number for both brokers. */
export const TEST_MAX_PAYLOAD_BYTES = 1024;
/**
 * The `values` topic's limit where a test sets one apart (values-payload-limit.test.ts); the
 * other tests give it TEST_MAX_PAYLOAD_BYTES, so one limit holds on every topic of both brokers.
 */
export const TEST_MAX_ORIGINAL_PAYLOAD_BYTES = 4096;

async function credentialUsers(): Promise<CredentialUser[]> {
  return Promise.all(
    Object.values(USERS).map(async (u): Promise<CredentialUser> => {
      const password_hash = await hashPassword(u.password);
      return u.role === 'device'
        ? { username: u.username, password_hash, role: 'device', device_id: u.deviceId }
        : { username: u.username, password_hash, role: 'service' };
    }),
  );
}

export interface BrokerUnderTest {
  name: 'aedes' | 'mosquitto';
  broker: Broker;
  dispose(): Promise<void>;
}

/** Our aedes broker service as a process, with a credential file of {@link USERS}. */
export async function startAedes(extraEnv: Record<string, string> = {}, options: { websocket?: boolean; tls?: { certFile: string; keyFile: string } } = {}) {
  const dir = makeTempDir('aedes-test');
  const credentialsFile = join(dir.path, 'credentials.json');
  saveCredentialFile(credentialsFile, { users: await credentialUsers() });
  const broker = new BrokerProcess({
    env: {
      MQTT_CREDENTIALS_FILE: credentialsFile,
      MQTT_MAX_PAYLOAD_BYTES: String(TEST_MAX_PAYLOAD_BYTES),
      MQTT_MAX_ORIGINAL_PAYLOAD_BYTES: String(TEST_MAX_PAYLOAD_BYTES),
      ...extraEnv,
    },
    ...options,
  });
  try {
    await broker.start();
  } catch (error) {
    dir.remove();
    throw error;
  }
  return {
    name: 'aedes' as const,
    broker,
    dispose: async () => {
      await broker.dispose();
      dir.remove();
    },
  };
}

/** Mosquitto with the rendered policy for {@link USERS}. */
export async function startMosquitto(options: { maxOriginalPayloadBytes?: number } = {}): Promise<BrokerUnderTest> {
  const dir = makeTempDir('mosquitto-policy');
  const users = await credentialUsers();
  const files = await writeMosquittoFiles(dir.path, {
    users,
    topics: new TopicScheme(),
    passwords: new Map(Object.values(USERS).map((u) => [u.username, u.password])),
    maxPayloadBytes: TEST_MAX_PAYLOAD_BYTES,
    maxPacketBytes: maxPacketBytes(TEST_MAX_PAYLOAD_BYTES),
    maxOriginalPayloadBytes: options.maxOriginalPayloadBytes ?? TEST_MAX_PAYLOAD_BYTES,
  });
  const broker = new MosquittoServer({ conf: files.conf });
  try {
    await broker.start();
  } catch (error) {
    await broker.dispose();
    dir.remove();
    throw error;
  }
  return {
    name: 'mosquitto',
    broker,
    dispose: async () => {
      await broker.dispose();
      dir.remove();
    },
  };
}
