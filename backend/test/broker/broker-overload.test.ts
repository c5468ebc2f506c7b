import type { BrokerProcess } from '@iot/harness/processes';
import { eventually } from '@iot/harness/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startAedes, USERS } from './fixtures.ts';
import { closeAll, collect, connect, type Login, publishOutcome, subscribeCodes } from './mqtt-helpers.ts';

/**
 * What the aedes broker holds when subscribers lag (backend/src/broker/session-queues.ts,
 * publish-backpressure.ts, and `concurrency: 0` in broker-service.ts). Progress is counted in
 * PUBACKs and log lines, never in time.
 */
const backend = { username: USERS.backend.username, password: USERS.backend.password };
const dev1 = { username: USERS.dev1.username, password: USERS.dev1.password };
const readings = (deviceId: string) => `iot-projekt/device/${deviceId}/readings`;

const clients = new Set<MqttClient>();
const brokers: { dispose(): Promise<void> }[] = [];
afterEach(async () => {
  await closeAll(clients);
  clients.clear();
  await Promise.all(brokers.splice(0).map((b) => b.dispose()));
});
async function open(url: string, login: Login, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await connect(url, login, 4, extra);
  clients.add(client);
  return client;
}

describe('aedes under a lagging subscriber', () => {
  it('survives a stuck persistent subscriber vanishing under a publish flood (no stack overflow in routing)', async () => {
    // Batches the size the uplink sends, not the fixtures' 1 KiB limit.
    const aedes = await startAedes({ MQTT_MAX_PAYLOAD_BYTES: String(256 * 1024) });
    brokers.push(aedes);
    const url = aedes.broker.url;
    const stuck = await open(url, backend, { clientId: 'backend-stuck', clean: false });
    stuck.handleMessage = () => {}; // never done: MQTT.js stops reading, and no PUBACK ever goes out
    expect(await subscribeCodes(stuck, [readings('+')])).toEqual([1]);

    // 20 publishers, each as fast as its PUBACKs come, until 5,000 are acknowledged.
    const target = 5_000;
    const payload = JSON.stringify({ v: 1, entries: Array.from({ length: 50 }, (_, i) => ({ id: `${i}`, values: { t: 21.5, h: 45.25, p: 1013.2 } })) });
    const publishers = await Promise.all(Array.from({ length: 20 }, (_, i) => open(url, backend, { clientId: `backend-pub-${i}` })));
    let acked = 0;
    await Promise.all(
      publishers.map(async (publisher) => {
        while (acked < target) {
          await publisher.publishAsync(readings('dev-1'), payload, { qos: 1 });
          acked++;
        }
      }),
    );
    // The subscriber goes while the broker still routes to it; aedes then completes the backlog.
    stuck.stream.destroy();

    const probe = await open(url, backend, { clientId: 'backend-probe' });
    const received = collect(probe);
    expect(await subscribeCodes(probe, ['lab/after-flood'])).toEqual([1]);
    expect(await publishOutcome(probe, 'lab/after-flood', 'still routing')).toEqual({ kind: 'acked', reasonCode: 0 });
    await eventually(() => received.length > 0, 10_000, 'a message routed after the flood');
    expect(aedes.broker.running).toBe(true);
    expect(JSON.stringify((aedes.broker as BrokerProcess).output())).not.toContain('Maximum call stack size exceeded');
  });

  it('holds back publishes to a full persistent session instead of acknowledging them, and delivers all once it drains', async () => {
    const limit = 5;
    const aedes = await startAedes({ MQTT_SESSION_QUEUE_LIMIT: String(limit), LOG_LEVEL: 'debug' });
    brokers.push(aedes);
    const { url } = aedes.broker;
    const { service } = aedes.broker as BrokerProcess;
    const session = { clientId: 'backend-rx', clean: false };
    const away = await open(url, backend, session);
    expect(await subscribeCodes(away, [readings('+')])).toEqual([1]);
    await away.endAsync();
    clients.delete(away);

    const device = await open(url, dev1, { clientId: 'device-dev-1' });
    for (let i = 1; i <= limit; i++) expect(await publishOutcome(device, readings('dev-1'), `batch ${i}`)).toEqual({ kind: 'acked', reasonCode: 0 });
    expect(await service.waitForLog((r) => r.event === 'session_queue_full', 10_000)).toMatchObject({ level: 'warn', clientId: 'backend-rx', depth: limit, limit });

    // One more: no PUBACK while the session is full (3.1.1 allows acknowledging later, never dropping after).
    let pubacked = false;
    const held = device.publishAsync(readings('dev-1'), `batch ${limit + 1}`, { qos: 1 }).then(() => {
      pubacked = true;
    });
    expect(await service.waitForLog((r) => r.event === 'publish_held' && r.clientId === 'device-dev-1', 10_000)).toMatchObject({ sessions: ['backend-rx'] });
    expect(pubacked).toBe(false);

    // The session's owner returns and acknowledges its queue; the held publish goes through.
    const back = mqtt.connect(url, { ...backend, ...session, protocolVersion: 4, reconnectPeriod: 0 });
    clients.add(back);
    const received = collect(back);
    await held;
    await eventually(() => received.length >= limit + 1, 10_000, 'every batch at the returning session');
    expect(received.map((m) => m.payload).sort()).toEqual(Array.from({ length: limit + 1 }, (_, i) => `batch ${i + 1}`).sort());
    expect(await service.waitForLog((r) => r.event === 'session_queue_room', 10_000)).toMatchObject({ clientId: 'backend-rx' });
  });
});
