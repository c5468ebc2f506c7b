import { spawnSync } from 'node:child_process';
import { TcpProxy } from '@iot/harness/faults';
import { OriginalFakeDevice } from '@iot/harness/original';
import { eventually } from '@iot/harness/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDynamicSecurityPlugin } from '../../src/broker/index.ts';
import { type CompatBackend, compareDelivery, fleetEntry, mentionsState, mentionsTime, startCompatBackend, storedByStreamId, suspectedGapsOf } from './original-fixture.ts';

/**
 * Devices of the original software as a TypeScript fake (OriginalFakeDevice): the same delivery
 * behaviour as the Python original (one message per backlog, cursor moved on publish, paho-like
 * re-send, QoS 0 answers, empty client id), driven step by step for the edge cases
 * (docs/original-devices.md §5). Readings are measured 100 ms apart, ending now.
 */
describe('the original device behaviour against this backend (aedes, SQLite), with the fake', () => {
  const ids = ['fake-base', 'fake-resend', 'fake-backlog', 'fake-cmd', 'fake-text', 'fake-gap'] as const;
  let backend: CompatBackend;
  const devices: OriginalFakeDevice[] = [];
  const proxies: TcpProxy[] = [];

  async function startFake(deviceId: (typeof ids)[number], port = backend.stack.brokerPort): Promise<OriginalFakeDevice> {
    const device = new OriginalFakeDevice({ deviceId, broker: { port }, login: backend.stack.login(deviceId), keepaliveSeconds: 5 });
    devices.push(device);
    return device.start();
  }

  /** `count` readings 100 ms apart, the last `endsAgoMs` before now; values as the original sends them, strings. */
  function measureSeries(device: OriginalFakeDevice, count: number, options: { endsAgoMs?: number; fields?: (i: number) => Record<string, string> } = {}): string[] {
    const end = Date.now() - (options.endsAgoMs ?? 0);
    const fields = options.fields ?? ((i: number) => ({ temperature_celsius: (20 + (i % 50) / 10).toFixed(1), humidity_percent: String(40 + (i % 20)) }));
    return Array.from({ length: count }, (_, i) => device.measure(fields(i), end - (count - 1 - i) * 100));
  }

  async function storedOnce(device: OriginalFakeDevice, timeoutMs = 20_000): Promise<void> {
    await eventually(async () => (await storedByStreamId(backend.db, device.id)).size >= device.stream.length, timeoutMs, `${device.stream.length} readings of ${device.id} stored`);
    expect(compareDelivery(device.stream, await storedByStreamId(backend.db, device.id))).toEqual({ measured: device.stream.length, lost: [], duplicated: [], corrupted: [], unexpected: [] });
  }

  beforeAll(async () => {
    backend = await startCompatBackend(ids);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await backend?.dispose();
  });

  it('is admitted with an empty client id and a clean session, and its backlog is stored exactly once', async () => {
    const device = await startFake('fake-base');
    measureSeries(device, 50, { endsAgoMs: 20_000 });
    expect(device.sendBacklog()).toHaveLength(50);
    // The cursor moved on publish, before any PUBACK (docs/original-system.md §14).
    expect(device.cursor).toBe(`(${device.stream.at(-1)!.id}`);
    await storedOnce(device);
    await eventually(() => device.allAcked, 10_000, 'the PUBACK');
    expect((await backend.db.devices.getDevice('fake-base'))?.protocol).toBe('original');
  });

  it('stores a message re-sent after a lost connection once (paho re-sends what has no PUBACK)', async () => {
    const device = await startFake('fake-resend');
    measureSeries(device, 20, { endsAgoMs: 20_000 });
    device.sendBacklog();
    device.dropConnection();
    await eventually(() => device.connections >= 2, 10_000, 'the reconnect');
    await eventually(() => device.allAcked, 10_000, 'the re-sent message acknowledged');
    await storedOnce(device);
  });

  // (a) A long outage's backlog is one message well over the 256 KiB every other topic is limited to.
  it('drains a backlog over 256 KiB sent as one message, stored once', async () => {
    const device = await startFake('fake-backlog');
    measureSeries(device, 4000, { endsAgoMs: 20_000 });
    device.sendBacklog();
    expect(device.published[0]!.bytes).toBeGreaterThan(256 * 1024);
    // Without the fix the broker closes the connection, MQTT.js (as paho) re-sends on every reconnect.
    await eventually(async () => (await storedByStreamId(backend.db, device.id)).size >= 4000 || device.connections >= 4, 30_000, 'the backlog stored, or re-sent thrice');
    await storedOnce(device);
  });

  describe('commands and answers in the original format', () => {
    let device: OriginalFakeDevice;
    beforeAll(async () => {
      device = await startFake('fake-cmd');
      measureSeries(device, 30, { endsAgoMs: 20_000 });
      device.sendBacklog();
      await storedOnce(device);
    });

    // (b) The original's answers carry no id: matched by command and key.
    it('does not give a get_config lost while offline the answer to a later get_config of another key', async () => {
      device.keys.set('measurement:interval', '2');
      await device.crash();
      const lost = await backend.control.sendCommand('fake-cmd', { command: 'get_config', key: 'measurement:enabled' });
      await device.start();
      const later = await backend.control.sendCommand('fake-cmd', { command: 'get_config', key: 'measurement:interval' });
      expect(await backend.control.waitForAnswer(later, 10_000)).toMatchObject({ state: 'answered', response: { command: 'get_config', key: 'measurement:interval', value: '2' } });
      expect((await backend.db.commands.get(lost))?.state).not.toBe('answered');
      expect(device.answers.map((a) => a.payload.key)).toEqual(['measurement:interval']);
    });

    it('matches set_config answers by key and value', async () => {
      const first = await backend.control.sendCommand('fake-cmd', { command: 'set_config', key: 'measurement:interval', value: '5' });
      const second = await backend.control.sendCommand('fake-cmd', { command: 'set_config', key: 'mqtt_sender:interval', value: '2' });
      expect(await backend.control.waitForAnswer(second, 10_000)).toMatchObject({ state: 'answered', response: { key: 'mqtt_sender:interval', value: '2' } });
      expect(await backend.control.waitForAnswer(first, 10_000)).toMatchObject({ state: 'answered', response: { key: 'measurement:interval', value: '5' } });
    });

    // (c) The original answers send_measurements with readings on values, no response message.
    it('marks send_measurements answered with the count of readings re-sent', async () => {
      const [from, , to] = device.stream.slice(5, 8);
      const id = await backend.control.sendCommand('fake-cmd', { command: 'send_measurements', min_id: from!.id, max_id: to!.id });
      await eventually(() => device.published.some((p) => p.cause === 'send_measurements'), 10_000, 'the fake to send the range');
      expect(await backend.control.waitForAnswer(id, 10_000)).toMatchObject({ state: 'answered', response: { count: 3 } });
    });

    // (d) The original answers a reboot before it runs the reboot script: the answer says nothing about the outcome.
    it('does not record a reboot answer as a success', async () => {
      const before = device.reboots;
      const id = await backend.control.sendCommand('fake-cmd', { command: 'reboot' });
      const answer = await backend.control.waitForAnswer(id, 10_000);
      expect(device.reboots).toBe(before + 1);
      expect(answer.state).toBe('answered');
      expect(answer.ok).not.toBe(true);
    });
  });

  // (e) The original's values are strings; one that is not a number is text, kept as given.
  it('stores text values as text, "0x10" and " 12 " not coerced, numbers as numbers', async () => {
    const device = await startFake('fake-text');
    const id = device.measure({ status: 'n/a', register: '0x10', padded: ' 12 ', temperature_celsius: '21.5' }, Date.now() - 20_000);
    device.sendBacklog();
    await eventually(async () => (await storedByStreamId(backend.db, 'fake-text')).has(id), 10_000, 'the reading with text values stored');
    expect((await storedByStreamId(backend.db, 'fake-text')).get(id)?.values).toEqual({ status: 'n/a', register: '0x10', padded: ' 12 ', temperature_celsius: 21.5 });
  });

  describe('readings the original lost', () => {
    let device: OriginalFakeDevice;
    let gap: { from: number; to: number };
    beforeAll(async () => {
      const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort: backend.stack.brokerPort }).start();
      proxies.push(proxy);
      device = await startFake('fake-gap', proxy.port);
      const before = measureSeries(device, 40, { endsAgoMs: 9000 });
      device.sendBacklog();
      await storedOnce(device);
      // A silent partition: the publish goes nowhere, the cursor moves anyway, the process dies.
      proxy.partition();
      const lost = measureSeries(device, 30, { endsAgoMs: 5000 });
      expect(device.sendBacklog()).toHaveLength(30);
      await device.crash();
      proxy.heal();
      await device.start();
      const after = measureSeries(device, 40, { endsAgoMs: 0 });
      expect(device.sendBacklog()).toHaveLength(40);
      await eventually(async () => (await storedByStreamId(backend.db, 'fake-gap')).has(after.at(-1)!), 10_000, 'the readings after the loss stored');
      const report = compareDelivery(device.stream, await storedByStreamId(backend.db, 'fake-gap'));
      // The setup works: exactly the readings published into the partition are lost.
      expect(report.lost).toEqual(lost);
      gap = { from: Number(before.at(-1)!.split('-')[0]), to: Number(after[0]!.split('-')[0]) };
    }, 60_000);

    // (f) Suspected gaps: the original's readings have no sequence numbers, but a measuring interval.
    it('shows a suspected gap on the integrity API where readings were lost', async () => {
      const evidence = await eventually(async () => {
        const found = await suspectedGapsOf(backend.api, 'fake-gap');
        return mentionsTime(found, gap.from) && mentionsTime(found, gap.to) ? found : undefined;
      }, 5000, `a suspected gap from ${gap.from} to ${gap.to}`).catch(async (error: Error) => {
        throw new Error(`${error.message}\n${JSON.stringify(await suspectedGapsOf(backend.api, 'fake-gap'))}`);
      });
      expect(JSON.stringify(evidence)).toMatch(/suspect/i);
    });

    // (g) Presence inferred: the original publishes no status and no Last Will.
    it('shows the device online (or stale), not unknown', async () => {
      const entry = await eventually(async () => {
        const found = await fleetEntry(backend.api, 'fake-gap');
        return mentionsState(found, ['online', 'stale']) === undefined ? undefined : found;
      }, 5000, 'an inferred presence on the fleet');
      expect(mentionsState(entry, ['unknown'])).toBeUndefined();
    });
  });
});

const mosquittoMissing =
  spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error !== undefined
    ? 'mosquitto is not on PATH'
    : findDynamicSecurityPlugin() === undefined
      ? 'Mosquitto has no dynamic-security plugin, which binds client ids'
      : undefined;

/**
 * Mosquitto's dynamic-security plugin compares the id Mosquitto assigns to an empty one with the
 * device's `device-<id>`, so the original software cannot connect through it
 * (backend/src/broker/mosquitto-client-ids.ts; docs/original-devices.md §5).
 */
describe.skipIf(mosquittoMissing !== undefined)(`an original device against Mosquitto${mosquittoMissing === undefined ? '' : ` (skipped: ${mosquittoMissing})`}`, () => {
  let backend: CompatBackend;
  beforeAll(async () => {
    backend = await startCompatBackend(['fake-mosq'], { broker: 'mosquitto', webAdmin: false });
  }, 60_000);
  afterAll(async () => {
    await backend?.dispose();
  });

  it('is refused: its empty client id is not the device-<id> the plugin binds to its login', async () => {
    const device = new OriginalFakeDevice({ deviceId: 'fake-mosq', broker: { port: backend.stack.brokerPort }, login: backend.stack.login('fake-mosq'), reconnectPeriodMs: 0 });
    await expect(device.start()).rejects.toThrow(/identifier rejected|not authori[sz]ed|bad user name or password/i);
    await device.stop();
  });
});
