import type { BrokerProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startAedes, startMosquitto, USERS } from './fixtures.ts';
import { brokerForSuite, collect, connect, type Login, publishOutcome, rawConnack, subscribeCodes } from './mqtt-helpers.ts';

/**
 * Client ids belong to users (backend/src/broker/client-id-rule.ts), on both brokers: a CONNECT
 * with an id already in use otherwise disconnects its owner [MQTT-3.1.4-2], firing its Will, or
 * resumes the owner's stored session [MQTT-3.1.2-4]. Refusals: aedes answers CONNACK 2
 * "identifier rejected" [MQTT-3.1.3-9]; Mosquitto's dynamic-security plugin answers 5 "not
 * authorized" (3.1.1 §3.2.2.3). Mosquitto binds only device ids (see mosquitto-client-ids.ts).
 */
const CASES = [
  { name: 'aedes', start: () => startAedes(), refused: 2 },
  { name: 'mosquitto', start: startMosquitto, refused: 5 },
] as const;

const login = (user: { username: string; password: string }): Login => ({ username: user.username, password: user.password });
const topic = (channel: string, deviceId: string) => `iot-projekt/device/${deviceId}/${channel}`;

/** Resolves with the CONNACK code of a refused CONNECT; fails if it was accepted. */
async function refusalCode(url: string, user: Login, extra: IClientOptions): Promise<number> {
  const client = await connect(url, user, 4, extra).catch((error: { code?: unknown }) => error);
  if (typeof (client as { end?: unknown }).end === 'function') {
    (client as MqttClient).end(true);
    throw new Error(`the broker accepted ${user.username} with client id "${extra.clientId}"`);
  }
  const code = (client as { code?: unknown }).code;
  if (typeof code !== 'number') throw client;
  return code;
}

describe.each(CASES)('$name binds client ids to users', ({ name, start, refused }) => {
  const suite = brokerForSuite(start);

  it("refuses another device's login with a device's id, which stays connected and fires no Last Will", async () => {
    const service = await suite.open(login(USERS.backend), 4, {});
    const statuses = collect(service);
    expect(await subscribeCodes(service, [topic('status', 'dev-1')])).toEqual([1]);
    const device = await suite.open(login(USERS.dev1), 4, { clientId: 'device-dev-1', will: { topic: topic('status', 'dev-1'), payload: Buffer.from('offline (will)'), qos: 1, retain: false } });
    let closed = false;
    device.on('close', () => {
      closed = true;
    });

    expect(await refusalCode(suite.under.broker.url, login(USERS.dev2), { clientId: 'device-dev-1' })).toBe(refused);

    // A takeover would have closed the device before the intruder's CONNACK; it is still there.
    expect(await publishOutcome(device, topic('status', 'dev-1'), 'still online')).toEqual({ kind: 'acked', reasonCode: 0 });
    await eventually(() => statuses.length > 0, 5_000, 'the status at the service');
    expect(closed).toBe(false);
    expect(statuses.map((m) => m.payload)).toEqual(['still online']);
  });

  it("refuses a device's login with a service's persistent session id, which keeps its subscriptions and queue", async () => {
    const sessionId = 'backend-1';
    const first = await suite.open(login(USERS.backend), 4, { clientId: sessionId, clean: false });
    expect(await subscribeCodes(first, [topic('readings', '+')])).toEqual([1]);
    await first.endAsync();
    // While the service is away, a reading is queued in its session (3.1.1 §3.1.2.4).
    const publisher = await suite.open(login(USERS.dev2), 4, { clientId: 'device-dev-2' });
    expect(await publishOutcome(publisher, topic('readings', 'dev-2'), 'queued for backend-1')).toEqual({ kind: 'acked', reasonCode: 0 });

    expect(await refusalCode(suite.under.broker.url, login(USERS.dev1), { clientId: sessionId, clean: false })).toBe(refused);

    // Listening before CONNACK: the broker sends the queue right behind it.
    const back = mqtt.connect(suite.under.broker.url, { ...login(USERS.backend), clientId: sessionId, clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    suite.track(back);
    const received = collect(back);
    await eventually(() => received.length > 0, 5_000, 'the queued reading at the returning service');
    expect(received).toEqual([{ topic: topic('readings', 'dev-2'), payload: 'queued for backend-1' }]);
  });

  it('admits a device with device-<its id> and refuses any other id it names', async () => {
    await suite.open(login(USERS.dev1), 4, { clientId: 'device-dev-1' });
    for (const clientId of ['dev-1', 'device-dev-2', 'device-dev-1-tool', 'device-dev-1x', 'aedes_0b6c1c1e-6a1e-4d4f-9a53-3c1b0f1e2d3c']) {
      expect(await refusalCode(suite.under.broker.url, login(USERS.dev1), { clientId }), clientId).toBe(refused);
    }
    // A persistent session needs an id of its own [MQTT-3.1.3-8].
    // MQTT.js will not send that CONNECT, so it goes by hand.
    const persistentEmpty = await rawConnack(suite.under.broker.url, { ...USERS.dev1, clientId: '', clean: false });
    expect(persistentEmpty).toBe(2);
  });

  // The original device software sends an empty id (paho-mqtt 1.x); the id aedes assigns is fresh
  // and unique, so it can take nothing over. Mosquitto's dynamic-security plugin cannot say so.
  it(name === 'aedes' ? 'admits an empty id with a clean session, as the original device software sends' : 'refuses an empty id: the dynamic-security plugin compares the id Mosquitto assigned', async () => {
    const service = await suite.open(login(USERS.backend), 4, {});
    const statuses = collect(service);
    expect(await subscribeCodes(service, [topic('status', 'dev-1')])).toEqual([1]);
    const device = await suite.open(login(USERS.dev1), 4, { clientId: 'device-dev-1' });
    if (name === 'aedes') {
      const original = await suite.open(login(USERS.dev1), 4, { clientId: '', clean: true });
      expect(await publishOutcome(original, topic('status', 'dev-1'), 'from the assigned id')).toEqual({ kind: 'acked', reasonCode: 0 });
    } else {
      expect(await refusalCode(suite.under.broker.url, login(USERS.dev1), { clientId: '', clean: true })).toBe(refused);
    }
    // Either way the device with its own id was not disconnected.
    expect(await publishOutcome(device, topic('status', 'dev-1'), 'still here')).toEqual({ kind: 'acked', reasonCode: 0 });
    await eventually(() => statuses.some((m) => m.payload === 'still here'), 5_000, 'the status at the service');
  });

  it.runIf(name === 'aedes')("refuses a service a device's id, but lets it use its own namespace and ids nobody owns", async () => {
    expect(await refusalCode(suite.under.broker.url, login(USERS.backend), { clientId: 'device-dev-1' })).toBe(2);
    await suite.open(login(USERS.backend), 4, { clientId: 'backend' });
    await suite.open(login(USERS.backend), 4, { clientId: 'backend-7' });
    await suite.open(login(USERS.backend), 4, { clientId: 'device-cli-4711' });
    const { service } = suite.under.broker as BrokerProcess;
    expect(await service.waitForLog((r) => r.event === 'auth_refused' && r.reason === 'client_id_not_owned' && r.username === 'backend', 5_000)).toMatchObject({ clientId: 'device-dev-1', returnCode: 2 });
  });
});
