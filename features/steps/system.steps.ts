import { strict as assert } from 'node:assert';
import { Given, Then, When } from '@cucumber/cucumber';
import type { BrokerKind } from '@iot/harness';
import { eventually } from '@iot/harness/testing';
import type { SystemWorld } from '../support/world.ts';

Given('a system with {broker} and {int} simulated device(s) measuring every {float} second(s)', async function (
  this: SystemWorld,
  broker: BrokerKind,
  devices: number,
  interval: number,
) {
  await this.startSystem({ broker, devices, intervalSeconds: interval });
});

Given('a system in containers with {broker} and {int} simulated device(s) measuring every {float} second(s)', async function (
  this: SystemWorld,
  broker: BrokerKind,
  devices: number,
  interval: number,
) {
  await this.startSystem({ broker, devices, intervalSeconds: interval }, 'containers');
});

Given('a system with {broker}, {int} simulated devices measuring every {float} seconds and device {string} provisioned but not running', async function (
  this: SystemWorld,
  broker: BrokerKind,
  devices: number,
  interval: number,
  provisioned: string,
) {
  await this.startSystem({ broker, devices, intervalSeconds: interval, provisionedOnly: [provisioned] });
});

Given('a system with {broker} and {int} simulated device(s) with a start\\/stop button, measuring every {float} second(s)', async function (
  this: SystemWorld,
  broker: BrokerKind,
  devices: number,
  interval: number,
) {
  await this.startSystem({ broker, devices, intervalSeconds: interval, withButton: true });
});

Given('a system with {broker}, {int} receivers sharing one subscription and {int} simulated devices measuring every {float} seconds', async function (
  this: SystemWorld,
  broker: BrokerKind,
  receivers: number,
  devices: number,
  interval: number,
) {
  await this.startSystem({ broker, devices, intervalSeconds: interval, receivers, sharedGroup: 'ingest' });
});

Given(
  'a system with {broker}, {int} receivers sharing one subscription and {int} simulated devices measuring every {float} seconds, sending up to {int} batches of {int} readings at once',
  async function (this: SystemWorld, broker: BrokerKind, receivers: number, devices: number, interval: number, window: number, batch: number) {
    await this.startSystem({
      broker,
      devices,
      intervalSeconds: interval,
      receivers,
      sharedGroup: 'ingest',
      // Debug logs: the scenario checks the uplinks' batch_published records for batches in flight.
      uplinkEnv: { UPLINK_WINDOW: String(window), UPLINK_BATCH_MAX_COUNT: String(batch), LOG_LEVEL: 'debug' },
    });
  },
);

/** Waits until every device recorded `count` readings since this step began (across restarts). */
async function recordMore(world: SystemWorld, count: number): Promise<void> {
  const start = new Map([...world.devices].map(([id, d]) => [id, d.history().length]));
  await eventually(() => [...world.devices].every(([id, d]) => d.history().length >= start.get(id)! + count), 60_000, `${count} more readings on every device`);
}

When('every device has recorded {int} readings', async function (this: SystemWorld, count: number) {
  await eventually(() => [...this.devices.values()].every((d) => d.history().length >= count), 60_000, `${count} readings on every device`);
});

When('every device has recorded {int} more readings', async function (this: SystemWorld, count: number) {
  await recordMore(this, count);
});

Then('every recorded reading is stored exactly once', async function (this: SystemWorld) {
  const report = await this.check();
  assert.ok(report.recorded > 0, 'no reading was recorded at all');
  assert.deepEqual(
    { lost: report.lost, duplicated: report.duplicated, corrupted: report.corrupted },
    { lost: 0, duplicated: 0, corrupted: 0 },
    `checker: ${JSON.stringify(report)}`,
  );
});

Then('every device had more than one batch in flight at a time', function (this: SystemWorld) {
  for (const [id, device] of this.devices) {
    const published = device.processes().flatMap((p) => p.logs().filter((r) => r.event === 'batch_published'));
    const most = Math.max(0, ...published.map((r) => Number(r.in_flight ?? 0)));
    // in_flight counts the batch just published with those before it still unconfirmed.
    assert.ok(most > 1, `device ${id}: at most ${most} batch(es) in flight among ${published.length} publications`);
  }
});
