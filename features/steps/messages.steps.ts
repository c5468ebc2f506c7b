import { strict as assert } from 'node:assert';
import { Then, When } from '@cucumber/cucumber';
import { eventually } from '@iot/harness/testing';
import mqtt from 'mqtt';
import { deviceClientId } from '@iot/backend/broker';
import type { SystemWorld } from '../support/world.ts';

// The broker binds a device's login to the client id device-<id> (docs/security.md §2), so these
// clients are the hostile device itself, provisioned but not running; with a running device's
// login they would only take over its session.
When('a client with the credentials of device {string} publishes malformed readings', async function (this: SystemWorld, id: string) {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port: this.backend.brokerPort, ...this.backend.login(id), clientId: deviceClientId(id), protocolVersion: 4 });
  try {
    const topic = `iot-projekt/device/${id}/readings`;
    const payloads: Record<string, string> = {
      not_json: '{"v":1,',
      wrong_shape: JSON.stringify({ v: 1, device: id }),
      wrong_type: JSON.stringify({ v: 1, device: id, batch: 'b', sent_at: 'yesterday', entries: [{}] }),
      unsupported_version: JSON.stringify({ v: 7, device: id, batch: 'b', sent_at: 1, entries: [{}] }),
      device_mismatch: JSON.stringify({ v: 1, device: 'dev-2', batch: 'b', sent_at: 1, entries: [{}] }),
    };
    for (const payload of Object.values(payloads)) await client.publishAsync(topic, payload, { qos: 1 });
    this.facts.malformed = Object.keys(payloads);
  } finally {
    await client.endAsync();
  }
});

Then('each malformed message is recorded as rejected with its reason', async function (this: SystemWorld) {
  const expected = (this.facts.malformed as string[]).sort();
  const db = await this.db();
  await eventually(async () => (await db.rejections.countRejections()) >= expected.length, 15_000, 'the rejections');
  const reasons = (await db.rejections.listRejections(50)).map((r) => r.reason).sort();
  assert.deepEqual(reasons, expected);
});

When('device {string} tries to publish readings as device {string} and to read its commands', async function (this: SystemWorld, id: string, victim: string) {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port: this.backend.brokerPort, ...this.backend.login(id), clientId: deviceClientId(id), protocolVersion: 4, reconnectPeriod: 0 });
  // MQTT.js rejects a subscription whose SUBACK says "failure" (0x80); the codes are on the error.
  this.facts.subscribeGranted = await client.subscribeAsync(`iot-projekt/device/${victim}/request`, { qos: 1 }).then(
    (granted) => granted.map((g) => g.qos),
    (error: { packet?: { granted?: (number | { qos: number })[] } }) => (error.packet?.granted ?? []).map((g) => (typeof g === 'number' ? g : g.qos)),
  );
  // aedes closes the connection of a client whose publish it refuses (MQTT 3.1.1 has no negative PUBACK).
  const outcome = await Promise.race([
    client.publishAsync(`iot-projekt/device/${victim}/readings`, JSON.stringify({ v: 1, device: victim, batch: 'x', sent_at: 1, entries: [{}] }), { qos: 1 }).then(() => 'puback'),
    new Promise<string>((resolve) => client.once('close', () => resolve('closed'))),
  ]);
  this.facts.spoofedPublish = outcome;
  client.end(true);
});

Then('the broker refused both, and nothing reached the backend', async function (this: SystemWorld) {
  assert.deepEqual(this.facts.subscribeGranted, [128], 'the subscription to another device\'s commands was granted');
  assert.equal(this.facts.spoofedPublish, 'closed');
  const db = await this.db();
  // The spoofed batch never arrived: no reading, no rejection under the victim's name.
  assert.equal((await db.rejections.listRejections(100)).filter((r) => r.deviceId === 'dev-2').length, 0);
});

Then('both receivers stored part of the readings', function (this: SystemWorld) {
  const committed = this.backend.receivers.map((r) => r.logs().filter((l) => l.event === 'batch_committed').length);
  this.facts.batchesPerReceiver = committed;
  for (const count of committed) assert.ok(count > 0, `a receiver did no work: ${JSON.stringify(committed)}`);
});
