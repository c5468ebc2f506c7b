import { strict as assert } from 'node:assert';
import { When, Then } from '@cucumber/cucumber';
import type { DeviceUnderTest, SystemOptions } from '@iot/harness';
import { AofSizeTracker, powerCut } from '@iot/harness/faults';
import { eventually } from '@iot/harness/testing';
import { faultLasts } from '../support/fault-duration.ts';
import type { SystemWorld } from '../support/world.ts';

/** How many times each device's current uplink has logged `event`. */
const uplinkEvents = (world: SystemWorld, event: string) => [...world.devices.values()].map((d) => d.uplink!.logs().filter((r) => r.event === event).length);

/**
 * Kills the broker while every device is connected (each connection logs one connect and, once
 * lost, one disconnect) and brings it back once every device noticed it was gone.
 */
async function crashBroker(world: SystemWorld): Promise<void> {
  await eventually(
    () => {
      const disconnects = uplinkEvents(world, 'uplink_disconnected');
      return uplinkEvents(world, 'uplink_connected').every((n, i) => n > disconnects[i]!);
    },
    30_000,
    'every device connected',
  );
  const before = uplinkEvents(world, 'uplink_disconnected');
  await world.backend.broker.kill();
  await eventually(() => uplinkEvents(world, 'uplink_disconnected').every((n, i) => n > before[i]!), 30_000, 'every device to notice the broker gone');
  await world.backend.broker.start();
}

When('the broker is killed and restarted', async function (this: SystemWorld) {
  await crashBroker(this);
});

When('the broker is killed and restarted {int} times', async function (this: SystemWorld, times: number) {
  for (let i = 0; i < times; i++) {
    await crashBroker(this);
    // Let the devices reconnect and deliver a little before the next crash.
    const before = [...this.devices.values()].map((d) => d.history().length);
    await eventually(() => [...this.devices.values()].every((d, k) => d.history().length > before[k]! + 5), 30_000, 'readings between crashes');
  }
});

When('the broker freezes for {int} seconds', async function (this: SystemWorld, seconds: number) {
  // SIGSTOP (docker pause): connections stay open but nothing answers; devices' keepalives must notice.
  await this.backend.broker.freeze();
  await faultLasts(seconds);
  await this.backend.broker.thaw();
});

When('the receiver is killed in the middle of a batch and restarted', async function (this: SystemWorld) {
  const receiver = this.backend.receivers.at(-1)!;
  const committed = receiver.logs().filter((r) => r.event === 'batch_committed').length;
  // Right after a commit, the next batches are in flight: in the broker, being parsed, or mid-transaction.
  await receiver.waitFor(() => (receiver.logs().filter((r) => r.event === 'batch_committed').length > committed ? true : undefined), 30_000, 'a committed batch');
  // Restarted at once, as its supervisor would, under the same client id and shared group; the
  // batches it dropped come again after the devices' ack timeout.
  const receivers = this.backend.receivers.length;
  const group = (this.facts.system as SystemOptions | undefined)?.sharedGroup;
  await receiver.kill();
  await this.backend.startReceiver({ clientId: `receiver-${receivers}`, ...(group === undefined ? {} : { group }), env: { LOG_LEVEL: 'debug' } });
});

When('the database is down for {int} seconds', async function (this: SystemWorld, seconds: number) {
  const mariadb = this.backend.mariadb;
  assert.ok(mariadb, 'this scenario has no MariaDB');
  this.expectedErrors.add('database_down');
  await mariadb.kill();
  await faultLasts(seconds);
  await mariadb.start();
});

Then('the receiver reported the database outage and recovered', async function (this: SystemWorld) {
  const receiver = this.backend.receivers.at(-1)!;
  await receiver.waitForLog((r) => r.event === 'database_down', 10_000, 'the outage report');
  await receiver.waitForLog((r) => r.event === 'database_up', 60_000, 'the recovery report');
});

const recordingFailures = (device: DeviceUnderTest) => device.sensor!.logs().filter((r) => r.event === 'recording_failed').length;

When('the Redis of device {string} is killed and restarted', async function (this: SystemWorld, id: string) {
  const device = this.device(id);
  // The sensor and the uplink report the outage as errors; that is the point.
  for (const event of ['recording_failed', 'redis_error', 'redis_down', 'uplink_redis_error']) this.expectedErrors.add(event);
  const failures = recordingFailures(device);
  await device.redis.kill();
  // Back once the sensor found it gone: the readings it could not write wait in its buffer.
  await eventually(() => recordingFailures(device) > failures, 30_000, 'the sensor to notice the outage');
  await device.redis.start();
});

/** What the OS had not fsynced at the power cut (appendfsync everysec): about the last second. */
const LOSS_WINDOW_MS = 1000;

When('device {string} loses power and boots again', async function (this: SystemWorld, id: string) {
  const device = this.device(id);
  const tracker = this.powerTracker;
  assert.ok(tracker, 'a power cut needs "Given the power of device ... can be cut"');
  // Everything on the device stops at the same instant (containers: one `docker kill` of all of
  // them); Redis loses what it had not fsynced. powerCut uses only the handle's kill(), which a
  // container's Redis has too.
  const [cut] = await Promise.all([powerCut(device.redis, tracker, { lossWindowMs: LOSS_WINDOW_MS }), ...device.processes().map((p) => p.kill())]);
  await tracker.stop();
  // The sample the AOF was cut back to, and the one before it: everything Redis had acknowledged
  // before that earlier sample was in the file when the kept sample read its size (Redis writes the
  // AOF before it replies). With no earlier sample nothing is known to be safe.
  const samples = tracker.samples;
  const kept = tracker.sizeAt(cut.cutAt - LOSS_WINDOW_MS)!;
  const safeBefore = samples[samples.indexOf(kept) - 1]?.at ?? Number.NEGATIVE_INFINITY;
  const bootsBefore = [...new Set(device.history().map((r) => r.bootId))];
  this.facts.powerCut = { at: cut.cutAt, truncatedBytes: cut.truncatedBytes, rolledBackTo: kept.at, safeBefore, bootsBefore };
  await device.redis.start();
  await Promise.all([device.startSensor(), device.startUplink()]);
});

When('the power of device {string} can be cut', async function (this: SystemWorld, id: string) {
  this.powerTracker = await new AofSizeTracker(this.device(id).redis).start();
});

/** When Redis acknowledged each reading of the given boots: its `reading_recorded` log line, keyed `boot:seq`. */
function recordedAt(devices: Iterable<DeviceUnderTest>, boots: readonly string[]): Map<string, number> {
  const times = new Map<string, number>();
  for (const device of devices) {
    for (const process of device.processes()) {
      for (const r of process.logs()) {
        if (r.event === 'reading_recorded' && boots.includes(String(r.boot_id))) times.set(`${String(r.boot_id)}:${String(r.seq)}`, Date.parse(String(r.time)));
      }
    }
  }
  return times;
}

Then('only readings recorded in the last second before the power cut are lost', async function (this: SystemWorld) {
  const report = await this.check();
  const cut = this.facts.powerCut as { at: number; safeBefore: number; bootsBefore: string[] };
  // The window is what the cut rolled back: from the AOF sample before the one it kept, on the
  // harness's clock (the same OS clock the sensor stamps its log lines with). Only the boots that
  // lost power can have lost anything.
  const times = recordedAt(this.devices.values(), cut.bootsBefore);
  const inWindow = [...times.values()].filter((at) => at >= cut.safeBefore).length;
  this.facts.powerCut = { ...cut, readingsInWindow: inWindow };
  assert.equal(report.duplicated + report.corrupted, 0, `checker: ${JSON.stringify(report)}`);
  assert.ok(inWindow < times.size, 'the scenario must record for longer than the loss window, or the check proves nothing');
  for (const key of report.examples.lost) {
    const at = times.get(key.slice(key.indexOf('/') + 1));
    assert.ok(at !== undefined, `lost reading ${key} is not one of the boots that lost power`);
    assert.ok(at >= cut.safeBefore, `lost reading ${key} was recorded at ${new Date(at).toISOString()}, before the AOF sample the cut kept`);
  }
  assert.ok(report.lost <= inWindow, `lost ${report.lost} readings, but only ${inWindow} were recorded in the window the cut rolled back`);
});

Then('the backend sees that the boot of device {string} ended without a clean shutdown', async function (this: SystemWorld, id: string) {
  const boots = await (await this.db()).readings.gaps(id);
  assert.ok(boots.length >= 2, `expected the boot before the cut and the one after, got ${JSON.stringify(boots)}`);
  const unclean = boots.filter((b) => b.shutdownSeq === null);
  assert.ok(unclean.length >= 1, `every boot has a shutdown marker: ${JSON.stringify(boots)}`);
  this.facts.boots = boots;
});

When('device {string} is cut off from the broker for {int} seconds', async function (this: SystemWorld, id: string, seconds: number) {
  const link = this.deviceLink(id);
  await link.partition();
  await faultLasts(seconds);
  await link.heal();
});

When('the network of device {string} has {int} ms of latency', function (this: SystemWorld, id: string, ms: number) {
  this.deviceLink(id).setLatency(ms);
});

Then('device {string} noticed the partition and reconnected', async function (this: SystemWorld, id: string) {
  const uplink = this.device(id).uplink!;
  const disconnects = uplink.logs().filter((r) => r.event === 'uplink_disconnected').length;
  assert.ok(disconnects >= 1, 'the uplink never noticed the partition');
  await eventually(() => uplink.logs().filter((r) => r.event === 'uplink_connected').length >= 2, 30_000, 'a reconnect');
});
