import { connect as netConnect } from 'node:net';
import type { BrokerProcess } from '@iot/harness/processes';
import { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedes, USERS } from './fixtures.ts';

/**
 * Password guessing over MQTT is throttled per remote address and per username
 * (backend/src/broker/login-throttle.ts). Every client connects from its own loopback address
 * (Linux routes all of 127.0.0.0/8 to lo), so "another address" is real. The limits are set small
 * and refill slowly enough (one failure an hour) that no refill can happen during a test.
 */
const BURST = 3;

interface Attempt {
  from: string;
  username: string;
  password: string;
  clientId?: string;
}

/** One CONNECT from `from`; resolves with the CONNACK code (0: accepted, then closed at once). */
function connack(port: number, attempt: Attempt): Promise<number> {
  const client = new MqttClient(() => netConnect({ host: '127.0.0.1', port, localAddress: attempt.from }), {
    protocolVersion: 4,
    clientId: attempt.clientId ?? `test-${Math.random().toString(16).slice(2, 10)}`,
    username: attempt.username,
    password: attempt.password,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (error: Error & { code?: unknown }) => {
      client.end(true);
      if (typeof error.code === 'number') resolve(error.code);
      else reject(error);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

const dev1 = { username: USERS.dev1.username, password: USERS.dev1.password, clientId: 'device-dev-1' };
const dev2 = { username: USERS.dev2.username, password: USERS.dev2.password, clientId: 'device-dev-2' };

describe('aedes throttles failed logins', () => {
  let aedes: Awaited<ReturnType<typeof startAedes>>;
  let port: number;
  beforeAll(async () => {
    aedes = await startAedes({ MQTT_AUTH_FAILURE_BURST: String(BURST), MQTT_AUTH_FAILURE_REFILL_SECONDS: '3600' });
    port = aedes.broker.port;
  });
  afterAll(async () => {
    await aedes?.dispose();
  });

  it(`refuses an address after ${BURST} failures without checking, even the right password, and serves other addresses`, async () => {
    const from = '127.0.0.2';
    for (const name of ['guess-a', 'guess-b', 'guess-c']) expect(await connack(port, { from, username: name, password: 'x' })).toBe(4);
    // 3 "server unavailable": the credentials were not checked, so a right password is not called wrong.
    expect(await connack(port, { from, ...dev2 })).toBe(3);
    expect(await connack(port, { from, username: 'guess-d', password: 'x' })).toBe(3);
    expect(await connack(port, { from: '127.0.0.3', ...dev2 })).toBe(0);

    const { service } = aedes.broker as BrokerProcess;
    const throttled = await service.waitForLog((r) => r.event === 'auth_throttled' && r.address === from, 5_000);
    expect(throttled).toMatchObject({ level: 'warn', limit: 'address_throttled', refusedInARow: 1, returnCode: 3, username: USERS.dev2.username });
    // Only hashed attempts are logged as refused; the throttled ones were never hashed.
    const refusedFrom = service.logs().filter((r) => r.event === 'auth_refused' && r.remoteAddress === from);
    expect(refusedFrom.map((r) => r.username)).toEqual(['guess-a', 'guess-b', 'guess-c']);
  });

  it('charges a wave of simultaneous guesses in full, so the address stays refused afterwards', async () => {
    const from = '127.0.0.4';
    const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => connack(port, { from, username: `flood-${i}`, password: 'x' })));
    // Those admitted before the burst was known to be spent were hashed (4); the rest were not (3).
    expect(codes.filter((c) => c !== 3 && c !== 4)).toEqual([]);
    expect(codes.filter((c) => c === 4).length).toBeGreaterThanOrEqual(BURST);
    expect(await connack(port, { from, ...dev2 })).toBe(3);
  });

  it("limits guesses at a device's username from many addresses, without locking the device out where it logged in before", async () => {
    expect(await connack(port, { from: '127.0.0.5', ...dev1 })).toBe(0);
    for (const from of ['127.0.0.6', '127.0.0.7', '127.0.0.8']) expect(await connack(port, { from, username: dev1.username, password: 'guess' })).toBe(4);
    // The username has used its burst: a new address gets no check, right password or not.
    expect(await connack(port, { from: '127.0.0.9', ...dev1 })).toBe(3);
    expect(await connack(port, { from: '127.0.0.10', username: dev1.username, password: 'guess' })).toBe(3);
    // From where it connected before, the device still logs in.
    expect(await connack(port, { from: '127.0.0.5', ...dev1 })).toBe(0);
  });
});
