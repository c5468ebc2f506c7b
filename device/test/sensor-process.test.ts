import { FIELD, STREAM_KEY } from '@iot/common/protocol';
import { RedisServer, type ServiceProcess, startServiceProcess } from '@iot/harness/processes';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * The sensor as it runs on a device: its own OS process, configured by env vars, against a real
 * redis-server started from the device's redis.conf, which the test kills with SIGKILL.
 */
describe('sensor process with Redis killed and restarted', () => {
  const server = new RedisServer();
  let admin: Redis;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    await server.start();
    admin = new Redis({ host: server.host, port: server.port, lazyConnect: true, retryStrategy: () => 50 });
    admin.on('error', () => {});
  });
  afterAll(async () => {
    admin.disconnect();
    await server.dispose();
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill()));
  });

  function startSensor(): ServiceProcess {
    const sensor = startServiceProcess('sensor', {
      HARDWARE: 'sim',
      REDIS_HOST: server.host,
      REDIS_PORT: String(server.port),
      INTERVAL_SECONDS: '0.02',
      SENSORS: 'bme280@0x76,sht31@0x44:outdoor',
      LOG_LEVEL: 'info',
    });
    processes.push(sensor);
    return sensor;
  }

  const recorded = (sensor: ServiceProcess) => sensor.logs().filter((r) => r.event === 'reading_recorded');

  it('loses no acknowledged reading and never reuses a reading identity', async () => {
    const first = startSensor();
    await first.waitForLog((r) => r.event === 'reading_recorded' && r.seq === 30, 15_000, '30 recorded readings');

    const killedAt = Date.now();
    await server.kill();
    // Readings taken during the outage wait in the sensor's buffer.
    await first.waitForLog((r) => r.event === 'recording_failed', 5000, 'the sensor noticing the outage');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const restartedAt = Date.now();
    await server.start();
    const lastBefore = recorded(first).length;
    await first.waitForLog((r) => r.event === 'reading_recorded' && Number(r.seq) >= lastBefore + 40, 15_000, 'recording after restart');

    // Stop cleanly (the marker), then boot the sensor again: a new boot id, sequence from 1.
    const exit = await first.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const second = startSensor();
    await second.waitForLog((r) => r.event === 'reading_recorded' && r.seq === 10, 15_000, 'readings of the second boot');
    await second.stop('SIGTERM');

    await admin.connect().catch(() => {});
    const raw = (await admin.xrange(STREAM_KEY, '-', '+')) as [string, string[]][];
    const byIdentity = new Map<string, Record<string, string>>();
    for (const [, flat] of raw) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      if (fields[FIELD.event] !== undefined) continue;
      const identity = `${fields[FIELD.bootId]}/${fields[FIELD.seq]}`;
      const seen = byIdentity.get(identity);
      // A retried XADD may store the same reading twice; it must then be the very same reading.
      if (seen !== undefined) expect(fields).toEqual(seen);
      byIdentity.set(identity, fields);
    }

    for (const sensor of [first, second]) {
      const history = recorded(sensor);
      expect(history.length).toBeGreaterThan(0);
      for (const line of history) {
        const stored = byIdentity.get(`${line.boot_id}/${line.seq}`);
        expect(stored, `reading ${line.boot_id}/${line.seq} acknowledged but not in the stream`).toBeDefined();
        const values = line.values as Record<string, number>;
        for (const [name, value] of Object.entries(values)) expect(Number(stored![name])).toBe(value);
      }
      // Nothing was dropped, so each boot's sequence has no gap.
      const seqs = history.map((r) => Number(r.seq)).sort((a, b) => a - b);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
    // Readings measured while Redis was dead were buffered and recorded after the restart.
    const duringOutage = recorded(first).filter((r) => Number(r.measured_at) > killedAt && Number(r.measured_at) < restartedAt);
    expect(duringOutage.length).toBeGreaterThan(5);

    const [bootA] = new Set(recorded(first).map((r) => r.boot_id));
    const [bootB] = new Set(recorded(second).map((r) => r.boot_id));
    expect(bootA).not.toBe(bootB);

    // Both boots ended cleanly, each with a marker naming its last sequence number.
    const markers = raw.map(([, flat]) => flat).filter((flat) => flat.includes(FIELD.event));
    expect(markers).toHaveLength(2);
  });
});
