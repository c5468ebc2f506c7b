import { eventually } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { type BrokerUnderTest, startAedes, startMosquitto, TEST_MAX_ORIGINAL_PAYLOAD_BYTES, TEST_MAX_PAYLOAD_BYTES, USERS } from './fixtures.ts';
import { brokerForSuite, collect, type PublishOutcome, publishOutcome, subscribeCodes } from './mqtt-helpers.ts';

/**
 * An original device sends its whole backlog as one message on `values` (docs/protocol.md §9),
 * so that topic has a larger payload limit than every other one. The packet-size guard sees only
 * a fixed header, without the topic, so it lets the larger packet through and the policy refuses
 * per topic (aedes). Mosquitto has one global limit: it admits the larger one everywhere, the
 * documented gap (docs/security.md §4), which the receiver's own per-topic limit closes.
 */
const CASES: { name: string; start: () => Promise<BrokerUnderTest>; overOnOtherTopic: 'refused' | 'delivered'; overOnValues: PublishOutcome }[] = [
  {
    name: 'aedes',
    start: () => startAedes({ MQTT_MAX_ORIGINAL_PAYLOAD_BYTES: String(TEST_MAX_ORIGINAL_PAYLOAD_BYTES) }),
    overOnOtherTopic: 'refused',
    overOnValues: { kind: 'closed' },
  },
  {
    name: 'mosquitto',
    start: () => startMosquitto({ maxOriginalPayloadBytes: TEST_MAX_ORIGINAL_PAYLOAD_BYTES }),
    overOnOtherTopic: 'delivered',
    // 3.1.1: Mosquitto drops a PUBLISH over message_size_limit and acknowledges it normally.
    overOnValues: { kind: 'acked', reasonCode: 0 },
  },
];

const topic = (channel: string) => `iot-projekt/device/${USERS.dev1.deviceId}/${channel}`;
const login = (user: { username: string; password: string }) => ({ username: user.username, password: user.password });

describe.each(CASES)('$name: the values topic has the larger payload limit', ({ start, overOnOtherTopic, overOnValues }) => {
  const suite = brokerForSuite(start);

  it(`delivers ${TEST_MAX_ORIGINAL_PAYLOAD_BYTES} bytes on values and refuses one byte more`, async () => {
    const backend = await suite.open(login(USERS.backend));
    const received = collect(backend);
    expect(await subscribeCodes(backend, ['iot-projekt/device/+/values', 'iot-projekt/device/+/status'])).toEqual([1, 1]);
    const device = await suite.open(login(USERS.dev1));
    expect(await publishOutcome(device, topic('values'), 'v'.repeat(TEST_MAX_ORIGINAL_PAYLOAD_BYTES))).toEqual({ kind: 'acked', reasonCode: 0 });
    expect(await publishOutcome(device, topic('values'), 'w'.repeat(TEST_MAX_ORIGINAL_PAYLOAD_BYTES + 1))).toEqual(overOnValues);

    const marker = await suite.open(login(USERS.dev1));
    await publishOutcome(marker, topic('status'), 'marker');
    await eventually(() => received.some((m) => m.payload === 'marker'), 5_000, 'the marker');
    expect(received.map((m) => [m.topic, m.payload.length])).toEqual([
      [topic('values'), TEST_MAX_ORIGINAL_PAYLOAD_BYTES],
      [topic('status'), 6],
    ]);
  });

  it(`keeps ${TEST_MAX_PAYLOAD_BYTES} bytes on every other topic (${overOnOtherTopic === 'refused' ? 'enforced' : 'Mosquitto: the documented gap'})`, async () => {
    const backend = await suite.open(login(USERS.backend));
    const received = collect(backend);
    expect(await subscribeCodes(backend, ['iot-projekt/device/+/status'])).toEqual([1]);
    const device = await suite.open(login(USERS.dev1));
    const outcome = await publishOutcome(device, topic('status'), 's'.repeat(TEST_MAX_PAYLOAD_BYTES + 1));
    const marker = await suite.open(login(USERS.dev1));
    await publishOutcome(marker, topic('status'), 'marker');
    await eventually(() => received.some((m) => m.payload === 'marker'), 5_000, 'the marker');
    if (overOnOtherTopic === 'refused') {
      expect(outcome).toEqual({ kind: 'closed' });
      expect(received.map((m) => m.payload.length)).toEqual([6]);
    } else {
      expect(outcome).toEqual({ kind: 'acked', reasonCode: 0 });
      expect(received.map((m) => m.payload.length)).toEqual([TEST_MAX_PAYLOAD_BYTES + 1, 6]);
    }
  });
});
