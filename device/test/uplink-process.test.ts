import { eventually } from '@iot/harness/testing';
import { describe, expect, it } from 'vitest';
import { REDIS_KEY } from '@iot/common/protocol';
import { useRedisAndBroker } from './redis-and-broker.ts';
import { addReadings, type ReceivedEntry, readRetained } from './uplink-fixtures.ts';

interface Status {
  v: number;
  online: boolean;
  at: number;
}

/**
 * The uplink as it runs on a device: its own OS process (mqtthandler, and inside the all-in-one
 * process), configured by env vars, against a real redis-server and an aedes broker.
 */
describe('uplink process', () => {
  const bed = useRedisAndBroker();
  const statusTopic = (device: string) => `iot-projekt/device/${device}/status`;
  const retainedStatus = async (device: string) => (await readRetained(bed.broker.url, statusTopic(device))) as Status;

  it('leaves a retained offline status through its Last Will when SIGKILLed', async () => {
    const uplink = bed.startProcess('mqtthandler', { BALENA_DEVICE_UUID: 'dev-will' });
    await uplink.waitForLog((r) => r.event === 'status_published', 15_000, 'the online status');
    const online = await retainedStatus('dev-will');
    expect(online).toMatchObject({ v: 1, online: true });
    await uplink.kill();
    const will = await eventually(
      async () => {
        const status = await retainedStatus('dev-will');
        return status.online === false ? status : undefined;
      },
      10_000,
      'the Last Will',
    );
    expect(will).toEqual({ v: 1, online: false, at: expect.any(Number) });
    // The Will is built at connect time, before the online status was.
    expect(will.at).toBeLessThanOrEqual(online.at);
  });

  it('publishes a retained offline status itself on a clean stop', async () => {
    const uplink = bed.startProcess('mqtthandler', { BALENA_DEVICE_UUID: 'dev-stop' });
    await uplink.waitForLog((r) => r.event === 'status_published', 15_000, 'the online status');
    const online = await retainedStatus('dev-stop');
    expect((await uplink.stop('SIGTERM')).code).toBe(0);
    const status = await retainedStatus('dev-stop');
    expect(status).toEqual({ v: 1, online: false, at: expect.any(Number) });
    // Built at the stop, after the online status (the Will, built at connect, would be older).
    expect(status.at).toBeGreaterThanOrEqual(online.at);
    expect(uplink.logs().some((r) => r.event === 'uplink_stopped')).toBe(true);
  });

  it('delivers a backlog of 300 000 readings exactly once with the heap limits of the device', async () => {
    // How fast and in how much memory is measured by `npm run bench:uplink-backlog`; this is the correctness part.
    const backend = await bed.connectBackend({ keep: false });
    const backlog = await addReadings(bed.admin, 1, 300_000);
    // The heap the balena app gives the uplink (balena/docker-compose.yml): reading the backlog
    // whole would not fit, so the uplink must stream it.
    const uplink = bed.startProcess('mqtthandler', { BALENA_DEVICE_UUID: 'dev-backlog', NODE_OPTIONS: '--max-old-space-size=128 --max-semi-space-size=4' });
    await eventually(async () => (await bed.admin.get(REDIS_KEY.senderLastId)) === `(${backlog.at(-1)}`, 120_000, 'the cursor at the last reading');
    expect(uplink.running).toBe(true);
    // Every reading arrived; a re-sent batch (after an ack timeout) may repeat some, which the backend absorbs.
    expect(backend.seqs.size).toBe(300_000);
    expect([...backend.seqs].filter((seq) => seq < 1 || seq > 300_000)).toEqual([]);
    // Trimmed behind the cursor down to the default history.
    await eventually(async () => (await bed.admin.xlen('measurement:values')) === 10_000, 10_000, 'the trim to UPLINK_HISTORY');
  }, 180_000);

  it('runs inside the all-in-one process, and a reboot command restarts the services with a new boot', async () => {
    const backend = await bed.connectBackend();
    const device = bed.startProcess('device-all-in-one', { BALENA_DEVICE_UUID: 'dev-aio', SENSORS: 'bme280@0x76', INTERVAL_SECONDS: '0.1' });
    const readings = () => [...backend.readings.values()].filter((e) => e.event === undefined);
    await eventually(() => readings().length >= 10, 20_000, 'readings from the all-in-one device');
    const firstBoot = readings()[0]!.boot;

    await backend.publish('request', 'dev-aio', { v: 1, id: 'reboot-1', command: 'reboot' });
    await eventually(() => backend.responses.find((r) => r?.id === 'reboot-1'), 10_000, 'the answer to reboot');
    await device.waitForLog((r) => r.event === 'device_restarting', 10_000, 'the simulated reboot');
    await eventually(() => readings().some((e) => e.boot !== firstBoot), 20_000, 'readings of the new boot');

    // The first boot ended cleanly: its marker names its last sequence number, and none is missing.
    const marker = await eventually(() => [...backend.readings.values()].find((e: ReceivedEntry) => e.event === 'shutdown'), 10_000, 'the shutdown marker');
    expect(marker.boot).toBe(firstBoot);
    const firstSeqs = readings()
      .filter((e) => e.boot === firstBoot)
      .map((e) => e.seq as number)
      .sort((a, b) => a - b);
    expect(firstSeqs).toEqual(Array.from({ length: marker.seq as number }, (_, i) => i + 1));
    expect((await device.stop('SIGTERM')).code).toBe(0);
  }, 60_000);
});
