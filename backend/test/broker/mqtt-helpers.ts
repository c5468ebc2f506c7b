import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connectPacket } from '@iot/harness/testing';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { deviceClientId } from '../../src/broker/client-id-rule.ts';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type BrokerUnderTest, USERS } from './fixtures.ts';

export type ProtocolVersion = 4 | 5;

export interface Login {
  username?: string;
  password?: string;
}

/** The broker binds a device's client id to its login (client-id-rule.ts); anyone else gets a fresh id. */
function defaultClientId(username: string | undefined): string {
  for (const user of Object.values(USERS)) {
    if (user.username === username && 'deviceId' in user) return deviceClientId(user.deviceId);
  }
  return `test-${randomUUID().slice(0, 8)}`;
}

function options(login: Login, protocolVersion: ProtocolVersion, extra: IClientOptions): IClientOptions {
  return {
    protocolVersion,
    clientId: defaultClientId(login.username),
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...(login.username === undefined ? {} : { username: login.username }),
    ...(login.password === undefined ? {} : { password: login.password }),
    ...extra,
  };
}

/** Connects and resolves once CONNACK accepted; rejects with the client's error (its `code` is the CONNACK code). */
export function connect(url: string, login: Login, protocolVersion: ProtocolVersion, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, options(login, protocolVersion, extra));
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      settle();
      client.end(true);
      reject(error);
    };
    const onClose = () => {
      settle();
      reject(new Error('connection closed before CONNACK'));
    };
    const settle = () => {
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.once('connect', () => {
      settle();
      // Later errors are the tests' business (see publishOutcome); without a listener 'error' would throw.
      client.on('error', () => undefined);
      resolve(client);
    });
    client.on('error', onError);
    client.on('close', onClose);
  });
}

/** Connects expecting a refusal; resolves with the CONNACK return/reason code. */
export async function connackRefusal(url: string, login: Login, protocolVersion: ProtocolVersion): Promise<number> {
  try {
    const client = await connect(url, login, protocolVersion);
    client.end(true);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw error;
  }
  throw new Error('the connection was accepted');
}

/** SUBSCRIBE and resolve with the SUBACK's return codes, one per filter, in order. */
export function subscribeCodes(client: MqttClient, filters: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filters, { qos }, (error, _granted, packet) => {
      // On a failure code MQTT.js reports an error that still carries the SUBACK.
      const suback = (packet ?? (error as { packet?: unknown } | null)?.packet) as { granted?: unknown[] } | undefined;
      if (suback?.granted !== undefined) resolve(suback.granted.map(Number));
      else reject(error ?? new Error('no SUBACK'));
    });
  });
}

export type PublishOutcome =
  | { kind: 'acked'; reasonCode: number }
  | { kind: 'rejected'; reasonCode: number }
  | { kind: 'closed' }
  /** The client could not even parse the broker's answer. */
  | { kind: 'protocol_error'; message: string };

/** QoS 1 PUBLISH; resolves with what the publisher saw: PUBACK (and its reason code), the connection closing, or a client error. */
export function publishOutcome(client: MqttClient, topic: string, payload: string | Buffer, timeoutMs = 5_000): Promise<PublishOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no PUBACK and no close within ${timeoutMs} ms`)), timeoutMs);
    const finish = (outcome: PublishOutcome) => {
      clearTimeout(timer);
      client.off('close', onClose);
      client.off('error', onError);
      resolve(outcome);
    };
    const onClose = () => finish({ kind: 'closed' });
    const onError = (error: Error) => finish({ kind: 'protocol_error', message: error.message });
    client.once('close', onClose);
    client.once('error', onError);
    client.publish(topic, payload, { qos: 1 }, (error, packet) => {
      const reasonCode = (error as { code?: number } | undefined)?.code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
      finish(error ? { kind: 'rejected', reasonCode } : { kind: 'acked', reasonCode });
    });
  });
}

/** Every message a client receives, for later assertions. */
export function collect(client: MqttClient): { topic: string; payload: string }[] {
  const received: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  return received;
}

export async function closeAll(clients: Iterable<MqttClient>): Promise<void> {
  await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
}

/**
 * Sends a 3.1.1 CONNECT by hand and resolves with the CONNACK return code (3.1.1 §3.2.2.3), or
 * 'closed' if the broker closed without one. For CONNECTs MQTT.js will not send, such as an empty
 * client id with CleanSession 0.
 */
export async function rawConnack(url: string, connect: { clientId: string; username: string; password: string; clean: boolean }): Promise<number | 'closed'> {
  const { hostname, port } = new URL(url);
  const socket = netConnect(Number(port), hostname);
  await once(socket, 'connect');
  socket.write(connectPacket(connect));
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4) {
        socket.destroy();
        resolve(received[0] === 0x20 ? (received[3] ?? 'closed') : 'closed');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve('closed'));
  });
}

/**
 * One broker for a describe block, started before its tests and disposed after them, and the
 * clients each test opens through `open`, closed after that test.
 */
export function brokerForSuite(start: () => Promise<BrokerUnderTest>): {
  readonly under: BrokerUnderTest;
  open(login: Login, protocolVersion?: ProtocolVersion, extra?: IClientOptions): Promise<MqttClient>;
  /** Closes a client the test connected by other means after the test, too. */
  track(client: MqttClient): MqttClient;
} {
  let started: BrokerUnderTest | undefined;
  const clients = new Set<MqttClient>();
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    await started?.dispose();
  });
  afterEach(async () => {
    await closeAll(clients);
    clients.clear();
  });
  return {
    get under() {
      if (started === undefined) throw new Error('the broker is not started: use it inside a test');
      return started;
    },
    async open(login, protocolVersion = 4, extra = {}) {
      const client = await connect(this.under.broker.url, login, protocolVersion, extra);
      clients.add(client);
      return client;
    },
    track(client) {
      clients.add(client);
      return client;
    },
  };
}
