import { connect as netConnect } from 'node:net';
import { eventually } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { type BrokerUnderTest, startAedes, startMosquitto, TEST_MAX_PAYLOAD_BYTES, USERS } from './fixtures.ts';
import { brokerForSuite, collect, connackRefusal, type Login, type ProtocolVersion, type PublishOutcome, publishOutcome, subscribeCodes } from './mqtt-helpers.ts';

/**
 * The same policy, enforced by both brokers as real processes: our aedes service and Mosquitto
 * with the rendered config. What differs is only how a refusal reaches the client, and that is
 * what the MQTT specification allows each protocol version to do:
 * - CONNACK (3.1.1 §3.2.2.3 Table 3.1): 4 bad user name or password, 5 not authorized;
 *   (5.0 §3.2.2.2): 0x86 bad user name or password, 0x87 not authorized.
 * - A refused PUBLISH under 3.1.1 gets a normal PUBACK or a closed connection [MQTT-3.3.5-2];
 *   under 5.0 a PUBACK with a reason code ≥ 0x80 (§3.4.2.1), e.g. 0x87 not authorized.
 * - A refused subscription: SUBACK 0x80 (3.1.1 §3.9.3), 0x87 not authorized (5.0 §3.9.3).
 * aedes 1.x implements 3.1/3.1.1 only, so it is exercised with 3.1.1 (and its refusal of 5.0 is checked).
 */

interface Expected {
  wrongPassword: number;
  anonymous: number;
  refusedPublish: PublishOutcome;
  oversizePublish: PublishOutcome;
  refusedSubscription: number;
}

const CASES: { name: BrokerUnderTest['name']; start: () => Promise<BrokerUnderTest>; versions: [ProtocolVersion, Expected][] }[] = [
  {
    name: 'aedes',
    start: () => startAedes(),
    versions: [
      // Our mapping in aedes-hooks.ts; aedes closes the connection on a refused publish.
      [4, { wrongPassword: 4, anonymous: 5, refusedPublish: { kind: 'closed' }, oversizePublish: { kind: 'closed' }, refusedSubscription: 0x80 }],
    ],
  },
  {
    name: 'mosquitto',
    start: startMosquitto,
    versions: [
      // Mosquitto answers both kinds of refused login with "not authorized", acknowledges refused
      // publishes normally under 3.1.1, and — with an acl_file — grants every SUBSCRIBE and applies
      // `topic read` to each message at delivery instead (so the SUBACK says granted; nothing arrives).
      [4, { wrongPassword: 5, anonymous: 5, refusedPublish: { kind: 'acked', reasonCode: 0 }, oversizePublish: { kind: 'acked', reasonCode: 0 }, refusedSubscription: 1 }],
      // An oversize PUBLISH: Mosquitto 2.0.11 answers PUBACK 0x95 "packet too large", which is not a
      // PUBACK reason code (5.0 §3.4.2.1), so MQTT.js rejects the packet as malformed and reports an error.
      [
        5,
        {
          wrongPassword: 0x87,
          anonymous: 0x87,
          refusedPublish: { kind: 'rejected', reasonCode: 0x87 },
          oversizePublish: { kind: 'protocol_error', message: 'Invalid puback reason code' },
          refusedSubscription: 1,
        },
      ],
    ],
  },
];

const topic = (channel: string, deviceId: string) => `iot-projekt/device/${deviceId}/${channel}`;
const login = (user: { username: string; password: string }): Login => ({ username: user.username, password: user.password });

describe.each(CASES)('$name enforces the broker policy', ({ start, versions }) => {
  const suite = brokerForSuite(start);

  describe.each(versions)('over MQTT protocol level %i', (version, expected) => {
    it('refuses a wrong password and an unknown user', async () => {
      expect(await connackRefusal(suite.under.broker.url, { username: USERS.dev1.username, password: 'not it' }, version)).toBe(expected.wrongPassword);
      expect(await connackRefusal(suite.under.broker.url, { username: 'nobody', password: USERS.dev1.password }, version)).toBe(expected.wrongPassword);
    });

    it('refuses a client without credentials', async () => {
      expect(await connackRefusal(suite.under.broker.url, {}, version)).toBe(expected.anonymous);
    });

    it("delivers a device's publish on its own readings topic to a service subscriber", async () => {
      const backend = await suite.open(login(USERS.backend), version);
      const received = collect(backend);
      expect(await subscribeCodes(backend, ['iot-projekt/device/+/readings'])).toEqual([1]);
      const device = await suite.open(login(USERS.dev1), version);
      expect(await publishOutcome(device, topic('readings', 'dev-1'), 'batch from dev-1')).toEqual({ kind: 'acked', reasonCode: 0 });
      await eventually(() => received.length > 0, 5_000, 'the reading at the service');
      expect(received).toEqual([{ topic: 'iot-projekt/device/dev-1/readings', payload: 'batch from dev-1' }]);
    });

    it("does not deliver a device's publish on another device's topic", async () => {
      const backend = await suite.open(login(USERS.backend), version);
      const received = collect(backend);
      expect(await subscribeCodes(backend, ['iot-projekt/device/+/readings', 'iot-projekt/device/+/request'])).toEqual([1, 1]);
      const intruder = await suite.open(login(USERS.dev1), version);
      expect(await publishOutcome(intruder, topic('readings', 'dev-2'), 'forged by dev-1')).toEqual(expected.refusedPublish);

      // A later message from the rightful owner arrives; the forged one, routed (or not) before it, never does.
      const owner = await suite.open(login(USERS.dev2), version);
      expect(await publishOutcome(owner, topic('readings', 'dev-2'), 'marker from dev-2')).toEqual({ kind: 'acked', reasonCode: 0 });
      await eventually(() => received.some((m) => m.payload === 'marker from dev-2'), 5_000, 'the marker at the service');
      expect(received.map((m) => m.payload)).toEqual(['marker from dev-2']);
    });

    it("grants a device its own request topic and refuses another device's", async () => {
      const device = await suite.open(login(USERS.dev1), version);
      const received = collect(device);
      expect(await subscribeCodes(device, [topic('request', 'dev-1'), topic('request', 'dev-2')])).toEqual([1, expected.refusedSubscription]);

      const backend = await suite.open(login(USERS.backend), version);
      expect(await publishOutcome(backend, topic('request', 'dev-2'), 'for dev-2')).toMatchObject({ kind: 'acked' });
      expect(await publishOutcome(backend, topic('request', 'dev-1'), 'for dev-1')).toMatchObject({ kind: 'acked' });
      await eventually(() => received.length > 0, 5_000, 'the command at dev-1');
      expect(received).toEqual([{ topic: topic('request', 'dev-1'), payload: 'for dev-1' }]);
    });

    it('refuses a device a wildcard across devices but grants it the broadcast topic', async () => {
      const device = await suite.open(login(USERS.dev1), version);
      const received = collect(device);
      expect(await subscribeCodes(device, ['iot-projekt/device/+/request'])).toEqual([expected.refusedSubscription]);
      expect(await subscribeCodes(device, ['iot-projekt/device/#'])).toEqual([expected.refusedSubscription]);
      expect(await subscribeCodes(device, ['iot-projekt/device/broadcast/control'])).toEqual([1]);

      const backend = await suite.open(login(USERS.backend), version);
      await publishOutcome(backend, topic('request', 'dev-2'), 'for dev-2');
      await publishOutcome(backend, 'iot-projekt/device/broadcast/control', 'for everyone');
      await eventually(() => received.length > 0, 5_000, 'the broadcast at dev-1');
      // Where a broker granted `#` too, MQTT 5 allows one copy per matching subscription (5.0 §3.3.4).
      expect(new Set(received.map((m) => `${m.topic} ${m.payload}`))).toEqual(new Set(['iot-projekt/device/broadcast/control for everyone']));
    });

    it(`delivers a payload of exactly ${TEST_MAX_PAYLOAD_BYTES} bytes and refuses one byte more, even from a service`, async () => {
      const subscriber = await suite.open(login(USERS.backend), version);
      const received = collect(subscriber);
      expect(await subscribeCodes(subscriber, ['lab/size/#'])).toEqual([1]);
      const publisher = await suite.open(login(USERS.backend), version);
      const atLimit = 'a'.repeat(TEST_MAX_PAYLOAD_BYTES);
      expect(await publishOutcome(publisher, 'lab/size/at-limit', atLimit)).toEqual({ kind: 'acked', reasonCode: 0 });
      expect(await publishOutcome(publisher, 'lab/size/over', 'b'.repeat(TEST_MAX_PAYLOAD_BYTES + 1))).toEqual(expected.oversizePublish);

      const marker = await suite.open(login(USERS.backend), version);
      await publishOutcome(marker, 'lab/size/marker', 'marker');
      await eventually(() => received.some((m) => m.payload === 'marker'), 5_000, 'the marker');
      expect(received.map((m) => [m.topic, m.payload.length])).toEqual([
        ['lab/size/at-limit', TEST_MAX_PAYLOAD_BYTES],
        ['lab/size/marker', 6],
      ]);
    });
  });

  it('survives a client sending garbage bytes and keeps serving others', async () => {
    const closedByBroker = await new Promise<boolean>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: suite.under.broker.port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 5_000);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.on('connect', () => {
        // An HTTP request, then a reserved packet type 0 with a length that never completes.
        socket.write('GET / HTTP/1.1\r\nHost: broker\r\n\r\n');
        socket.write(Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xde, 0xad, 0xbe, 0xef]));
      });
      socket.on('timeout', () => reject(new Error('socket timeout')));
    });
    expect(closedByBroker).toBe(true);
    expect(suite.under.broker.running).toBe(true);

    const backend = await suite.open(login(USERS.backend), 4);
    const received = collect(backend);
    await subscribeCodes(backend, ['iot-projekt/device/+/status']);
    const device = await suite.open(login(USERS.dev1), 4);
    await publishOutcome(device, topic('status', 'dev-1'), 'still here');
    await eventually(() => received.length > 0, 5_000, 'a message after the garbage');
    expect(received).toEqual([{ topic: topic('status', 'dev-1'), payload: 'still here' }]);
  });
});
