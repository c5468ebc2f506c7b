import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Database, type NewReading, openDatabase } from '../../src/db/index.ts';
import { RollupRefresher } from '../../src/rollups/rollup-refresher.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const BOOT = 'b00700000000beef';
const T0 = Date.UTC(2026, 10, 1);
const json = (body: unknown, extra: Record<string, string> = {}) => ({ headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });

function readings(from: number, to: number, boot = BOOT): NewReading[] {
  return Array.from({ length: to - from + 1 }, (_, i) => {
    const seq = from + i;
    return { bootId: boot, seq, streamId: `${T0 + seq * 1000}-0`, measuredAt: T0 + seq * 1000, values: { temperature_celsius: seq, humidity_percent: 40 } };
  });
}

/** Reads Server-Sent Events from a fetch body until `count` events (not comments) arrived. */
async function readEvents(body: ReadableStream<Uint8Array>, count: number, timeoutMs = 10_000): Promise<Array<{ event: string; data: unknown }>> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const events: Array<{ event: string; data: unknown }> = [];
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<{ done: true; value: undefined }>((r) => setTimeout(() => r({ done: true, value: undefined }), deadline - Date.now()))]);
    if (chunk.done) break;
    buffer += chunk.value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

describe('web admin overview API and live events', () => {
  let db: Database;
  let web: WebAdminUnderTest;
  const dir = makeTempDir('webadmin-live');
  let admin: { cookie: string; csrf: string };
  let viewer: { cookie: string; csrf: string };
  /** What the receiver process runs: the web admin itself only reads rollups. */
  let refresher: RollupRefresher;

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'admin');
    await db.users.create('victor', 'victor-pw', 'viewer');
    // Seq 1..3000 with 101..110 missing; 1..50 arrive twice.
    await db.readings.storeReadings('dev-1', readings(1, 100));
    await db.readings.storeReadings('dev-1', readings(111, 3000));
    await db.readings.storeReadings('dev-1', readings(1, 50));
    await db.devices.recordStatus('dev-1', { v: 1, online: true, at: T0, backlog: 4, measuring: true, interval_seconds: 1 }, T0 + 5000);
    await db.configs.setDesired('dev-1', { 'measurement:interval': '5', 'mqtt_sender:enabled': '1' });
    await db.configs.setReported('dev-1', 1, { 'measurement:interval': '1', 'mqtt_sender:enabled': '1' }, null);
    refresher = new RollupRefresher({ rollups: db.rollups, leases: db.leases, clock: systemClock, logger: silentLogger() });
    web = await WebAdminUnderTest.start(db);
    admin = await web.login('alice', 'alice-pw');
    viewer = await web.login('victor', 'victor-pw');
  }, 30_000);
  afterAll(async () => {
    await refresher?.stop();
    await web?.close();
    await db?.close();
    dir.remove();
  });

  const get = (path: string, who = viewer) => web.fetch(path, { headers: { cookie: who.cookie } });

  it('lists the fleet with the latest reading, status and configuration drift', async () => {
    const body = (await (await get('/api/fleet')).json()) as { devices: Array<Record<string, unknown>> };
    expect(body.devices).toHaveLength(1);
    const [entry] = body.devices as [{ device: { id: string; online: boolean; status: { backlog: number } }; latest: unknown; drift: unknown }];
    expect(entry.device).toMatchObject({ id: 'dev-1', online: true, status: { backlog: 4 } });
    expect(entry.latest).toEqual({ measuredAt: T0 + 3_000_000, values: { temperature_celsius: 3000, humidity_percent: 40 } });
    expect(entry.drift).toEqual([{ key: 'measurement:interval', desired: '5', reported: '1' }]);
  });

  it('serves chart series downsampled once the rollups caught up, and validates the range', async () => {
    await web.live.round();
    // The web admin does not refresh rollups: the marks wait for the receiver's refresher.
    expect(await db.rollups.pending()).toBeGreaterThan(0);
    expect(await refresher.round()).toMatchObject({ holding: true });
    expect(await db.rollups.pending()).toBe(0);
    const response = await get(`/api/devices/dev-1/series?from=${T0}&to=${T0 + 3_000_000}&points=50`);
    expect(response.status).toBe(200);
    const series = (await response.json()) as { resolution: string; metrics: Record<string, Array<[number, number, number, number, number]>> };
    expect(series.resolution).toBe('minute');
    const temperature = series.metrics.temperature_celsius ?? [];
    expect(temperature.length).toBeLessThanOrEqual(50);
    expect(temperature.reduce((n, p) => n + p[4], 0)).toBe(2990);
    expect(Math.max(...temperature.map((p) => p[3]))).toBe(3000);

    const short = (await (await get(`/api/devices/dev-1/series?from=${T0}&to=${T0 + 20_000}`)).json()) as { resolution: string };
    expect(short.resolution).toBe('raw');
    for (const [query, field] of [
      [`from=${T0 + 10}&to=${T0}`, 'from'],
      ['points=1', 'points'],
      ['points=5000', 'points'],
      ['to=yesterday', 'to'],
      ['colour=red', 'colour'],
    ] as const) {
      const bad = await get(`/api/devices/dev-1/series?${query}`);
      expect(bad.status, query).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message, query).toContain(field);
    }
    expect((await get('/api/devices/nope/series')).status).toBe(404);
  });

  it('reports counts of stored, absorbed and missing readings on the integrity endpoint, and the missing numbers per boot on request', async () => {
    const body = (await (await get('/api/integrity')).json()) as { devices: Array<Record<string, unknown>> };
    expect(body.devices).toEqual([
      {
        id: 'dev-1',
        name: null,
        readings: 2990,
        duplicatesAbsorbed: 50,
        missing: 10,
        unsequenced: 0,
        clockSkewed: 0,
        suspectedGaps: null,
        boots: [{ bootId: BOOT, firstSeenAt: expect.any(Number), readings: 2990, minSeq: 1, maxSeq: 3000, shutdownSeq: null, missingCount: 10, clockSkewed: 0 }],
      },
    ]);
    const gaps = (await (await get(`/api/devices/dev-1/gaps?boot=${BOOT}`)).json()) as { boots: unknown[] };
    expect(gaps.boots).toEqual([expect.objectContaining({ bootId: BOOT, missingCount: 10, missing: [{ from: 101, to: 110 }] })]);
    expect(((await (await get('/api/devices/dev-1/gaps?limit=1')).json()) as { boots: Array<{ missing: unknown[] }> }).boots[0]?.missing).toHaveLength(1);
    for (const [query, status, field] of [
      ['boot=not%20a%20boot', 400, 'boot'],
      ['boot=0123456789abcdef0', 400, 'boot'],
      ['limit=0', 400, 'limit'],
      ['limit=10001', 400, 'limit'],
      ['limit=ten', 400, 'limit'],
      ['colour=red', 400, 'colour'],
      ['boot=feedfeedfeedfeed', 404, 'feedfeedfeedfeed'],
    ] as const) {
      const bad = await get(`/api/devices/dev-1/gaps?${query}`);
      expect(bad.status, query).toBe(status);
      expect(((await bad.json()) as { error: { message: string } }).error.message, query).toContain(field);
    }
    expect((await get('/api/devices/nope/gaps')).status).toBe(404);
  });

  it('renames a device for admins only, with CSRF, and validates the name', async () => {
    const hostile = '<script>alert("x")</script>';
    expect((await web.fetch('/api/devices/dev-1/name', { method: 'PUT', ...json({ name: hostile }, { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf }) })).status).toBe(403);
    expect((await web.fetch('/api/devices/dev-1/name', { method: 'PUT', ...json({ name: hostile }, { cookie: admin.cookie }) })).status).toBe(403);
    const empty = await web.fetch('/api/devices/dev-1/name', { method: 'PUT', ...json({ name: '  ' }, { cookie: admin.cookie, 'x-csrf-token': admin.csrf }) });
    expect(empty.status).toBe(400);
    const ok = await web.fetch('/api/devices/dev-1/name', { method: 'PUT', ...json({ name: hostile }, { cookie: admin.cookie, 'x-csrf-token': admin.csrf }) });
    expect(ok.status).toBe(200);
    expect((await db.devices.getDevice('dev-1'))?.name).toBe(hostile);
    const cleared = await web.fetch('/api/devices/dev-1/name', { method: 'PUT', ...json({ name: null }, { cookie: admin.cookie, 'x-csrf-token': admin.csrf }) });
    expect(((await cleared.json()) as { device: { name: unknown } }).device.name).toBeNull();
  });

  it('streams device, readings and command changes as Server-Sent Events', async () => {
    expect((await web.fetch('/api/events')).status).toBe(401);
    await web.live.round();
    const response = await get('/api/events');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const body = response.body;
    if (body === null) throw new Error('no body');
    await db.readings.storeReadings('dev-2', readings(1, 5, 'c0ffee0000000001'));
    await db.commands.create({ id: 'cmd-live', deviceId: 'dev-1', command: 'reboot', args: {}, createdAt: T0, expiresAt: T0 + 60_000 });
    const events = readEvents(body, 3);
    // The receiver's refresher rolls the new readings up; then the web admin sees them chartable.
    await refresher.round();
    await web.live.round();
    expect((await events).sort((a, b) => a.event.localeCompare(b.event))).toEqual([
      { event: 'commands', data: { deviceId: 'dev-1' } },
      { event: 'device', data: { id: 'dev-2' } },
      { event: 'readings', data: { deviceId: 'dev-2', latestMeasuredAt: Math.floor((T0 + 5000) / 60_000) * 60_000 } },
    ]);
    // The reader cancelled: the server notices the closed connection and unsubscribes.
    await vi.waitFor(() => expect(web.live.subscribers).toBe(0), { timeout: 5000 });
  });
});
