import { strict as assert } from 'node:assert';
import { When, Then } from '@cucumber/cucumber';
import { AofSizeTracker, powerCut } from '@iot/harness/faults';
import { eventually } from '@iot/harness/testing';
import type { SystemWorld } from '../support/world.ts';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

When('the broker is killed and restarted', async function (this: SystemWorld) {
  await this.backend.broker.kill();
  await pause(1000);
  await this.backend.broker.start();
});

When('the broker is killed and restarted {int} times', async function (this: SystemWorld, times: number) {
  for (let i = 0; i < times; i++) {
    await this.backend.broker.kill();
    await pause(500);
    await this.backend.broker.start();
    // Let the devices reconnect and deliver a little before the next crash.
    const before = [...this.devices.values()].map((d) => d.history().length);
    await eventually(() => [...this.devices.values()].every((d, k) => d.history().length > before[k]! + 5), 30_000, 'readings between crashes');
  }
});

When('the broker freezes for {int} seconds', async function (this: SystemWorld, seconds: number) {
  // SIGSTOP: connections stay open but nothing answers; devices' keepalives must notice.
  this.backend.broker.freeze();
  await pause(seconds * 1000);
  this.backend.broker.thaw();
});

When('the receiver is killed in the middle of a batch and restarted', async function (this: SystemWorld) {
  const receiver = this.backend.receivers.at(-1)!;
  const committed = receiver.logs().filter((r) => r.event === 'batch_committed').length;
  // Right after a commit, the next batches are in flight: in the broker, being parsed, or mid-transaction.
  await receiver.waitFor(() => (receiver.logs().filter((r) => r.event === 'batch_committed').length > committed ? true : undefined), 30_000, 'a committed batch');
  await receiver.kill();
  await pause(500);
  await this.backend.startReceiver({ clientId: 'receiver-1', env: { LOG_LEVEL: 'debug' } });
});

When('the database is down for {int} seconds', async function (this: SystemWorld, seconds: number) {
  const mariadb = this.backend.mariadb;
  assert.ok(mariadb, 'this scenario has no MariaDB');
  this.expectedErrors.add('database_down');
  await mariadb.kill();
  await pause(seconds * 1000);
  await mariadb.start();
});

Then('the receiver reported the database outage and recovered', async function (this: SystemWorld) {
  const receiver = this.backend.receivers.at(-1)!;
  await receiver.waitForLog((r) => r.event === 'database_down', 10_000, 'the outage report');
  await receiver.waitForLog((r) => r.event === 'database_up', 60_000, 'the recovery report');
});

When('the Redis of device {string} is killed and restarted', async function (this: SystemWorld, id: string) {
  const device = this.device(id);
  // The sensor and the uplink report the outage as errors; that is the point.
  for (const event of ['recording_failed', 'redis_error', 'redis_down', 'uplink_redis_error']) this.expectedErrors.add(event);
  await device.redis.kill();
  await pause(1500);
  await device.redis.start();
});

When('device {string} loses power and boots again', async function (this: SystemWorld, id: string) {
  const device = this.device(id);
  const tracker = this.facts.aofTracker as AofSizeTracker | undefined;
  assert.ok(tracker, 'a power cut needs "Given the power of device ... can be cut"');
  // Everything on the device stops at the same instant; Redis loses what it had not fsynced.
  const [cut] = await Promise.all([powerCut(device.redis, tracker, { lossWindowMs: 1000 }), ...device.processes().map((p) => p.kill())]);
  tracker.stop();
  this.facts.powerCut = { at: cut.cutAt, truncatedBytes: cut.truncatedBytes };
  await device.redis.start();
  device.startSensor();
  device.startUplink();
});

When('the power of device {string} can be cut', function (this: SystemWorld, id: string) {
  const tracker = new AofSizeTracker(this.device(id).redis);
  tracker.start();
  this.facts.aofTracker = tracker;
});

Then('at most the readings of the last {int} seconds before the power cut are lost', async function (this: SystemWorld, seconds: number) {
  const report = await this.check();
  const cut = this.facts.powerCut as { at: number; truncatedBytes: number };
  const history = [...this.devices.values()].flatMap((d) => d.history());
  const window = history.filter((r) => r.measuredAt >= cut.at - seconds * 1000).length;
  this.facts.powerCut = { ...cut, readingsInWindow: window };
  assert.equal(report.duplicated + report.corrupted, 0, `checker: ${JSON.stringify(report)}`);
  assert.ok(report.lost <= window, `lost ${report.lost} readings, but only ${window} were recorded in the last ${seconds} s before the cut`);
  assert.ok(window < report.recorded, 'the scenario must record for longer than the loss window, or the bound proves nothing');
  for (const key of report.examples.lost) {
    const [, rest] = key.split('/');
    const [boot, seq] = rest!.split(':');
    const reading = history.find((r) => r.bootId === boot && r.seq === Number(seq))!;
    assert.ok(reading.measuredAt >= cut.at - seconds * 1000, `lost reading ${key} was recorded well before the cut`);
  }
});

Then('the backend sees that the boot of device {string} ended without a clean shutdown', async function (this: SystemWorld, id: string) {
  const boots = await (await this.db()).readings.gaps(id);
  assert.ok(boots.length >= 2, `expected the boot before the cut and the one after, got ${JSON.stringify(boots)}`);
  const unclean = boots.filter((b) => b.shutdownSeq === null);
  assert.ok(unclean.length >= 1, `every boot has a shutdown marker: ${JSON.stringify(boots)}`);
  this.facts.boots = boots;
});

When('device {string} is cut off from the broker for {int} seconds', async function (this: SystemWorld, id: string, seconds: number) {
  const proxy = this.proxies.get(id)!;
  proxy.partition();
  await pause(seconds * 1000);
  proxy.heal();
});

When('the network of device {string} has {int} ms of latency', function (this: SystemWorld, id: string, ms: number) {
  this.proxies.get(id)!.setLatency(ms);
});

Then('device {string} noticed the partition and reconnected', async function (this: SystemWorld, id: string) {
  const uplink = this.device(id).uplink!;
  const disconnects = uplink.logs().filter((r) => r.event === 'uplink_disconnected').length;
  assert.ok(disconnects >= 1, 'the uplink never noticed the partition');
  await eventually(() => uplink.logs().filter((r) => r.event === 'uplink_connected').length >= 2, 30_000, 'a reconnect');
});
