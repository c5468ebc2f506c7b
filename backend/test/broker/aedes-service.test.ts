import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { BrokerProcess, makeTempDir, startServiceProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAedes, USERS } from './fixtures.ts';
import { closeAll, collect, connackRefusal, connect, publishOutcome, subscribeCodes } from './mqtt-helpers.ts';

const dev1 = { username: USERS.dev1.username, password: USERS.dev1.password };
const backend = { username: USERS.backend.username, password: USERS.backend.password };
const clients = new Set<MqttClient>();
afterEach(async () => {
  await closeAll(clients);
  clients.clear();
});
function track(client: MqttClient): MqttClient {
  clients.add(client);
  return client;
}

describe('aedes broker service', () => {
  let aedes: Awaited<ReturnType<typeof startAedes>>;
  beforeAll(async () => {
    aedes = await startAedes();
  });
  afterAll(async () => {
    await aedes?.dispose();
  });

  it('refuses MQTT 5 clients with CONNACK 1, unacceptable protocol version (aedes 1.x speaks 3.1.1)', async () => {
    expect(await connackRefusal(aedes.broker.url, dev1, 5)).toBe(1);
  });

  it('logs connections and every refusal as JSON lines with an event field', async () => {
    const service = aedes.broker.service;
    await connackRefusal(aedes.broker.url, { username: USERS.dev1.username, password: 'wrong' }, 4);
    const device = track(await connect(aedes.broker.url, dev1, 4, { clientId: 'device-dev-1' }));
    await subscribeCodes(device, ['iot-projekt/device/dev-2/ack']);
    await publishOutcome(device, 'iot-projekt/device/dev-2/status', 'forged');

    const find = (event: string) => service.waitForLog((r) => r.event === event && (r.clientId === 'device-dev-1' || r.username === USERS.dev1.username), 5_000, event);
    expect(await find('auth_refused')).toMatchObject({ level: 'warn', username: USERS.dev1.username, reason: 'wrong_password', returnCode: 4, transport: 'tcp' });
    expect(await find('client_connected')).toMatchObject({ level: 'info', clientId: 'device-dev-1', role: 'device', deviceId: 'dev-1', protocolVersion: 4 });
    expect(await find('subscribe_refused')).toMatchObject({ level: 'warn', topic: 'iot-projekt/device/dev-2/ack', reason: 'not_own_topic' });
    expect(await find('publish_refused')).toMatchObject({ level: 'warn', topic: 'iot-projekt/device/dev-2/status', reason: 'not_own_topic', qos: 1, payloadBytes: 6 });
    expect(await find('client_disconnected')).toMatchObject({ clientId: 'device-dev-1' });
    expect(JSON.stringify(service.logs())).not.toContain(USERS.dev1.password);
  });

  it('closes a connection announcing a packet above the packet limit before its body arrives', async () => {
    // PUBLISH with remaining length 200,000 (0xC0 0x9A 0x0C); no CONNECT needed, no body sent.
    const closed = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port: aedes.broker.port });
      const timer = setTimeout(() => resolve(false), 5_000);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.on('connect', () => socket.write(Buffer.from([0x30, 0xc0, 0x9a, 0x0c])));
    });
    expect(closed).toBe(true);
    // 1024-byte payload limit → packet limit 70,659 (config.ts); the announced packet is 200,004 bytes.
    expect(await aedes.broker.service.waitForLog((r) => r.event === 'packet_too_large', 5_000)).toMatchObject({ packetBytes: 200_004, limitBytes: 70_659 });
  });

  it('stops cleanly on SIGTERM', async () => {
    const own = await startAedes();
    try {
      const device = track(await connect(own.broker.url, dev1, 4));
      const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
      await own.broker.stop();
      expect(await own.broker.service.exited).toEqual({ code: 0, signal: null });
      expect(own.broker.service.logs().some((r) => r.event === 'broker_stopped')).toBe(true);
      await closed;
    } finally {
      await own.dispose();
    }
  });
});

describe('aedes broker service configuration', () => {
  it('exits with EX_CONFIG (78) and names the problem when the credential file is invalid', async () => {
    const dir = makeTempDir('aedes-bad');
    try {
      const proc = startServiceProcess('mqttserver', { MQTT_PORT: '1', MQTT_CREDENTIALS_FILE: join(dir.path, 'missing.json') });
      expect((await proc.exited).code).toBe(78);
      expect(proc.stderrLines.join('\n')).toContain(`${join(dir.path, 'missing.json')}: cannot read the credential file`);
    } finally {
      dir.remove();
    }
  });

  it('admits anonymous clients with service rights only when MQTT_ALLOW_ANONYMOUS=true, and warns at start', async () => {
    const open = new BrokerProcess({ env: { MQTT_ALLOW_ANONYMOUS: 'true' } });
    try {
      await open.start();
      expect(open.service.logs().find((r) => r.event === 'anonymous_allowed')).toMatchObject({ level: 'warn' });
      const subscriber = track(await connect(open.url, {}, 4));
      const received = collect(subscriber);
      expect(await subscribeCodes(subscriber, ['iot-projekt/device/+/request'])).toEqual([1]);
      const publisher = track(await connect(open.url, {}, 4));
      expect(await publishOutcome(publisher, 'iot-projekt/device/dev-7/request', 'anon')).toEqual({ kind: 'acked', reasonCode: 0 });
      await eventually(() => received.length > 0, 5_000, 'the anonymous message');
      expect(received).toEqual([{ topic: 'iot-projekt/device/dev-7/request', payload: 'anon' }]);
    } finally {
      await open.dispose();
    }
  });
});

describe('aedes broker service transports', () => {
  it('carries MQTT over WebSocket with the same policy', async () => {
    const aedes = await startAedes({}, { websocket: true });
    try {
      const broker = aedes.broker as BrokerProcess;
      const service = track(await connect(broker.url, backend, 4));
      const received = collect(service);
      await subscribeCodes(service, ['iot-projekt/device/+/readings']);
      const device = track(await connect(broker.wsUrl, dev1, 4));
      expect(await subscribeCodes(device, ['iot-projekt/device/dev-2/request'])).toEqual([0x80]);
      expect(await publishOutcome(device, 'iot-projekt/device/dev-1/readings', 'over ws')).toEqual({ kind: 'acked', reasonCode: 0 });
      await eventually(() => received.length > 0, 5_000, 'the WebSocket publish at the TCP subscriber');
      expect(received).toEqual([{ topic: 'iot-projekt/device/dev-1/readings', payload: 'over ws' }]);
      expect(broker.service.logs().find((r) => r.event === 'client_connected' && r.transport === 'ws')).toMatchObject({ deviceId: 'dev-1' });
    } finally {
      await aedes.dispose();
    }
  });

  const openssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!openssl)(`carries MQTT over TLS with a self-signed certificate made by openssl${openssl ? '' : ' (skipped: openssl is not on PATH)'}`, async () => {
    const dir = makeTempDir('aedes-tls');
    const certFile = join(dir.path, 'cert.pem');
    const keyFile = join(dir.path, 'key.pem');
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    const aedes = await startAedes({}, { tls: { certFile, keyFile } });
    try {
      const broker = aedes.broker as BrokerProcess;
      const ca = readFileSync(certFile);
      const device = track(await connect(broker.tlsUrl, dev1, 4, { ca, rejectUnauthorized: true }));
      const received = collect(device);
      expect(await subscribeCodes(device, ['iot-projekt/device/dev-1/ack'])).toEqual([1]);
      const service = track(await connect(broker.url, backend, 4));
      await publishOutcome(service, 'iot-projekt/device/dev-1/ack', 'over tls');
      await eventually(() => received.length > 0, 5_000, 'the message over TLS');
      expect(received).toEqual([{ topic: 'iot-projekt/device/dev-1/ack', payload: 'over tls' }]);

      // A client that does not trust the certificate fails the handshake; the broker logs it and carries on.
      await expect(connect(broker.tlsUrl, dev1, 4, { rejectUnauthorized: true })).rejects.toThrow(/self-signed certificate/);
      expect(await broker.service.waitForLog((r) => r.event === 'tls_client_error', 5_000)).toMatchObject({ level: 'warn' });
      expect(broker.running).toBe(true);
    } finally {
      await aedes.dispose();
      dir.remove();
    }
  });
});
