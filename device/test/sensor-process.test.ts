import { FIELD, STREAM_KEY } from '@iot/common/protocol';
import type { ServiceProcess } from '@iot/harness/processes';
import { describe, expect, it } from 'vitest';
import { useRedisAndBroker } from './redis-and-broker.ts';

/**
 * The sensor as it runs on a device: its own OS process, configured by env vars, against a real
 * redis-server started from the device's redis.conf, which the test kills with SIGKILL.
 */
describe('sensor process with Redis killed and restarted', () => {
  const bed = useRedisAndBroker({ broker: 'none' });
  const startSensor = () => bed.startProcess('sensor', { INTERVAL_SECONDS: '0.02', SENSORS: 'bme280@0x76,sht31@0x44:outdoor' });

  const recorded = (sensor: ServiceProcess) => sensor.logs().filter((r) => r.event === 'reading_recorded');

  it('loses no acknowledged reading and never reuses a reading identity', async () => {
    const first = startSensor();
    await first.waitForLog((r) => r.event === 'reading_recorded' && r.seq === 30, 15_000, '30 recorded readings');

    await bed.redis.kill();
    // The sensor found Redis gone with readings in hand: those wait in its buffer.
    await first.waitForLog((r) => r.event === 'recording_failed', 5000, 'the sensor noticing the outage');
    const lastSeqBeforeOutage = Math.max(...recorded(first).map((r) => Number(r.seq)));
    const restartedAt = Date.now();
    await bed.redis.start();
    await first.waitForLog((r) => r.event === 'reading_recorded' && Number(r.seq) >= lastSeqBeforeOutage + 40, 15_000, 'recording after restart');

    // Stop cleanly (the marker), then boot the sensor again: a new boot id, sequence from 1.
    const exit = await first.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const second = startSensor();
    await second.waitForLog((r) => r.event === 'reading_recorded' && r.seq === 10, 15_000, 'readings of the second boot');
    await second.stop('SIGTERM');

    const raw = (await bed.admin.xrange(STREAM_KEY, '-', '+')) as [string, string[]][];
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
    // The readings the sensor could not write were buffered and recorded after the restart: at least
    // the one whose write failed, measured before the restart, after everything recorded before it.
    const buffered = recorded(first).filter((r) => Number(r.seq) > lastSeqBeforeOutage && Number(r.measured_at) <= restartedAt);
    expect(buffered.length).toBeGreaterThanOrEqual(1);

    const [bootA] = new Set(recorded(first).map((r) => r.boot_id));
    const [bootB] = new Set(recorded(second).map((r) => r.boot_id));
    expect(bootA).not.toBe(bootB);

    // Both boots ended cleanly, each with a marker naming its last sequence number.
    const markers = raw.map(([, flat]) => flat).filter((flat) => flat.includes(FIELD.event));
    expect(markers).toHaveLength(2);
  });
});
