import { strict as assert } from 'node:assert';
import { Then, When } from '@cucumber/cucumber';
import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { REDIS_KEY, TopicScheme } from '@iot/common/protocol';
import { DeviceControl } from '@iot/backend/control';
import { SimulationControl } from '@iot/simulator/control';
import { eventually, holdsFor } from '@iot/harness/testing';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { faultLasts } from '../support/fault-duration.ts';
import type { SystemOptions, SystemWorld } from '../support/world.ts';

async function control(world: SystemWorld, id: string, service: 'sensor' | 'button'): Promise<SimulationControl> {
  const socket = world.device(id).controlSocket(service);
  assert.ok(socket, 'devices of this scenario have no simulation control');
  return SimulationControl.connect(socket, { timeoutMs: 10_000 });
}

async function deviceRedis<T>(world: SystemWorld, id: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const device = world.device(id);
  const redis = new Redis({ host: device.redis.host, port: device.redis.port });
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** Readings recorded by the device's current sensor process. */
const recordedNow = (world: SystemWorld, id: string) => world.device(id).sensor!.logs().filter((r) => r.event === 'reading_recorded');
/** The interval the scenario's devices started with, ms. */
const startIntervalMs = (world: SystemWorld) => (world.facts.system as SystemOptions).intervalSeconds * 1000;

When('the button of device {string} is pressed with bouncing contacts', async function (this: SystemWorld, id: string) {
  const button = await control(this, id, 'button');
  try {
    await button.button(17, 'click', { ms: 15 });
  } finally {
    button.close();
  }
});

Then('device {string} stops measuring', async function (this: SystemWorld, id: string) {
  await eventually(async () => (await deviceRedis(this, id, (r) => r.get(REDIS_KEY.measurementEnabled))) === '0', 10_000, `${REDIS_KEY.measurementEnabled} to be 0`);
  // One press, one toggle: bounce did not flip it back and forth. The button writes Redis before
  // it logs, and its log line arrives through a pipe, so wait for the line, then see that no
  // second toggle follows (bounces end within the press's 15 ms).
  const button = this.device(id).button!;
  const toggles = () => button.logs().filter((r) => r.event === 'measuring_toggled');
  await eventually(() => toggles().length >= 1, 10_000, 'the button to log its toggle');
  await holdsFor(() => toggles().length === 1, 500, 'exactly one toggle for one bouncing press');
  // The sensor re-reads measurement:enabled at least every interval (and at most 100 ms, at most 1 s
  // apart), so no reading can be *measured* later than that after the toggle reached Redis, whenever
  // it is recorded: a relation between the two processes' timestamps, not a bound on speed.
  const toggledAt = Date.parse(String(toggles()[0]!.time));
  const appliesWithinMs = Math.min(1000, Math.max(100, startIntervalMs(this)));
  await holdsFor(
    () => recordedNow(this, id).every((r) => Number(r.measured_at) <= toggledAt + appliesWithinMs),
    3000,
    `no reading measured more than ${appliesWithinMs} ms after measuring was stopped`,
  );
});

Then('device {string} measures again', async function (this: SystemWorld, id: string) {
  const before = recordedNow(this, id).length;
  await eventually(() => recordedNow(this, id).length >= before + 5, 15_000, 'readings after resuming');
  assert.equal(await deviceRedis(this, id, (r) => r.get(REDIS_KEY.measurementEnabled)), '1');
});

When('an operator sets the measurement interval of device {string} to {float} seconds', async function (this: SystemWorld, id: string, seconds: number) {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port: this.backend.brokerPort, ...this.backend.login('operator'), protocolVersion: 4 });
  try {
    const ops = new DeviceControl({ db: await this.db(), mqtt: client, topics: new TopicScheme(), clock: systemClock, logger: silentLogger() });
    await eventually(async () => (await (await this.db()).devices.getDevice(id)) !== undefined, 20_000, 'the device to be known');
    const commandId = await ops.sendCommand(id, { command: 'set_interval', seconds });
    const answer = await ops.waitForAnswer(commandId, 15_000);
    assert.deepEqual({ state: answer.state, ok: answer.ok }, { state: 'answered', ok: true }, JSON.stringify(answer));
    this.facts.intervalChangedAt = Date.now();
  } finally {
    await client.endAsync();
  }
});

Then('device {string} records readings about {float} seconds apart', async function (this: SystemWorld, id: string, seconds: number) {
  const since = this.facts.intervalChangedAt as number;
  const newMs = seconds * 1000;
  const oldMs = startIntervalMs(this);
  // A loaded machine stretches single gaps (the sensor keeps its schedule and catches up), so this
  // waits for what shows the new interval in force: three gaps in a row nearer to it than to the
  // old one. It never fails for slowness, only if the device stays at the old interval.
  const nearNew = (gap: number) => Math.abs(gap - newMs) < Math.abs(gap - oldMs);
  const run = await eventually(
    () => {
      const times = recordedNow(this, id)
        .map((r) => Number(r.measured_at))
        .filter((t) => t > since);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      const at = gaps.findIndex((_, i) => i + 3 <= gaps.length && gaps.slice(i, i + 3).every(nearNew));
      return at < 0 ? undefined : gaps.slice(at, at + 3);
    },
    30_000,
    `three readings in a row about ${seconds} s apart`,
  );
  this.facts.gapsAtNewInterval = run;
});

When('the {word} of device {string} stops answering', async function (this: SystemWorld, chip: string, id: string) {
  const address = chip === 'BME280' ? 0x76 : 0x44;
  const sensor = await control(this, id, 'sensor');
  try {
    await sensor.busFault(1, address, 'nack');
    this.facts.chipFault = { chip, at: Date.now() };
  } finally {
    sensor.close();
  }
});

When('the {word} of device {string} answers again after {int} seconds', async function (this: SystemWorld, _chip: string, id: string, seconds: number) {
  await faultLasts(seconds);
  const sensor = await control(this, id, 'sensor');
  try {
    await sensor.busFault(1, _chip === 'BME280' ? 0x76 : 0x44, null);
  } finally {
    sensor.close();
  }
});

Then('device {string} reported the chip error and the recovery', async function (this: SystemWorld, id: string) {
  const sensor = this.device(id).sensor!;
  const error = await sensor.waitForLog((r) => r.event === 'chip_error', 10_000, 'the chip error');
  assert.equal(error.code, 'i2c_nack');
  await sensor.waitForLog((r) => r.event === 'chip_recovered', 15_000, 'the recovery');
  const after = recordedNow(this, id).length;
  await eventually(() => recordedNow(this, id).length > after + 3, 15_000, 'readings after the recovery');
});
