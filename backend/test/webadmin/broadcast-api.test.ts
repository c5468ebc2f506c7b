import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { TopicScheme } from '@iot/common/protocol';
import { BackendStack } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceControl } from '../../src/control/device-control.ts';
import type { Database } from '../../src/db/index.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const topics = new TopicScheme();
const json = (body: unknown, extra: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });

/** POST /api/broadcasts through a real broker and receiver to a device in the original software's shoes. */
describe('web admin: broadcast commands (docs/original-devices.md §3)', () => {
  const stack = new BackendStack({ deviceIds: ['old-1'] });
  let db: Database;
  let operator: MqttClient;
  let device: MqttClient;
  let web: WebAdminUnderTest;
  let admin: { cookie: string; csrf: string };
  let viewer: { cookie: string; csrf: string };
  const received: unknown[] = [];

  beforeAll(async () => {
    await stack.start();
    await stack.startReceiver();
    db = await stack.database();
    await db.users.create('alice', 'alice-pw', 'admin');
    await db.users.create('victor', 'victor-pw', 'viewer');
    await db.readings.storeReadings('old-1', [{ bootId: null, seq: null, streamId: '1700000000000-0', measuredAt: 1_700_000_000_000, values: { temperature_celsius: 20 } }], { protocol: 'original' });
    const login = stack.login('old-1');
    // The original's paho 1.x connects with an empty client id and a clean session.
    device = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...login, clientId: '', clean: true, protocolVersion: 4, reconnectPeriod: 0 });
    await device.subscribeAsync(topics.topic('broadcast', 'old-1'), { qos: 0 });
    device.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString())));
    const operatorLogin = stack.login('operator');
    operator = await mqtt.connectAsync({ host: '127.0.0.1', port: stack.brokerPort, ...operatorLogin, clientId: 'operator-web-test' });
    web = await WebAdminUnderTest.start(db, new DeviceControl({ db, mqtt: operator, topics, clock: systemClock, logger: silentLogger() }));
    admin = await web.login('alice', 'alice-pw');
    viewer = await web.login('victor', 'victor-pw');
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await device?.endAsync();
    await operator?.endAsync();
    await stack.dispose();
  });

  const post = (body: unknown, who: { cookie: string; csrf: string }, csrf = true) =>
    web.fetch('/api/broadcasts', json(body, { cookie: who.cookie, ...(csrf ? { 'x-csrf-token': who.csrf } : {}) }));

  it('refuses viewers, requests without the CSRF token and an unconfirmed fleet reboot, recording nothing', async () => {
    expect((await post({ command: 'get_config', key: 'measurement:interval' }, viewer)).status).toBe(403);
    expect((await post({ command: 'get_config', key: 'measurement:interval' }, admin, false)).status).toBe(403);
    const reboot = await post({ command: 'reboot' }, admin);
    expect(reboot.status).toBe(400);
    expect(await reboot.json()).toMatchObject({ error: { code: 'confirmation_required' } });
    const resend = await post({ command: 'send_measurements' }, admin);
    expect(await resend.json()).toMatchObject({ error: { code: 'not_broadcastable' } });
    expect(await db.commands.broadcasts.list()).toEqual([]);
  });

  it('sends a broadcast, stores the original device answer against it, and lists both', async () => {
    const response = await post({ command: 'get_config', key: 'measurement:interval' }, admin);
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect(await eventually(() => received[0], 10_000, 'the broadcast at the device')).toEqual({ command: 'get_config', key: 'measurement:interval' });
    await device.publishAsync(topics.topic('response', 'old-1'), JSON.stringify({ command: 'get_config', key: 'measurement:interval', value: '10' }), { qos: 0 });
    const detail = await eventually(async () => {
      const body = (await (await web.fetch(`/api/broadcasts/${id}`, { headers: { cookie: viewer.cookie } })).json()) as { answers: unknown[] };
      return body.answers.length === 1 && body;
    }, 10_000, 'the answer on the broadcast');
    expect(detail).toMatchObject({
      broadcast: { id, state: 'sent', command: 'get_config', createdBy: 'alice', answers: { total: 1, ok: 1 } },
      answers: [{ deviceId: 'old-1', ok: true, response: { value: '10' } }],
    });
    const list = (await (await web.fetch('/api/broadcasts?limit=5', { headers: { cookie: viewer.cookie } })).json()) as { broadcasts: { id: string }[] };
    expect(list.broadcasts.map((b) => b.id)).toEqual([id]);
    const ofDevice = (await (await web.fetch('/api/devices/old-1/broadcasts', { headers: { cookie: viewer.cookie } })).json()) as { broadcasts: unknown[] };
    expect(ofDevice.broadcasts).toEqual([expect.objectContaining({ broadcast: expect.objectContaining({ id }), answer: expect.objectContaining({ deviceId: 'old-1', ok: true }) })]);
    expect((await web.fetch('/api/devices/nobody/broadcasts', { headers: { cookie: viewer.cookie } })).status).toBe(404);
    expect((await web.fetch('/api/broadcasts/nope', { headers: { cookie: viewer.cookie } })).status).toBe(400);
    expect((await web.fetch('/api/broadcasts/0000-0000', { headers: { cookie: viewer.cookie } })).status).toBe(404);
  });
});
