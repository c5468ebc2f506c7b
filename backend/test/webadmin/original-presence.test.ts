import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONLINE_INTERVALS, ORIGINAL_SEND_INTERVAL_MS } from '../../src/db/cadence.ts';
import { type Database, openDatabase } from '../../src/db/index.ts';
import type { FleetEntry } from '../../src/webadmin/overview-routes.ts';
import type { DeviceIntegrity, SuspectedGapScan } from '../../src/db/integrity-store.ts';
import { lossyHistory, originals, storeInChunks, T0 } from '../db/original-integrity-suite.ts';
import { manualClock, reading } from '../db/store-suite.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const ORIGINAL = 'orig-lossy';
const V1 = 'dev-v1';
const BOOT = 'b00700000000beef';

/**
 * The fleet and integrity API for devices running the original software (docs/original-devices.md
 * §4): presence inferred from their readings by the web admin's clock, suspected gaps where they
 * lost readings, and the clock-skew flag counted. In-process web admin on SQLite with a clock the
 * test moves.
 */
describe('web admin API for original devices: inferred presence, suspected gaps, clock skew', () => {
  const dir = makeTempDir('webadmin-original');
  const lastSeen = T0 + 10_000_000;
  const clock = manualClock(lastSeen);
  const { times, lost } = lossyHistory();
  let db: Database;
  let web: WebAdminUnderTest;
  let cookie: string;
  const get = (path: string) => web.fetch(path, { headers: { cookie } });
  const getJson = async <T>(path: string): Promise<T> => {
    const response = await get(path);
    const body = await response.text();
    expect(response.status, `${path}: ${body}`).toBe(200);
    return JSON.parse(body) as T;
  };
  const fleetEntry = async (id: string) => (await getJson<{ devices: FleetEntry[] }>('/api/fleet')).devices.find((d) => d.device.id === id);

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` }, { clock });
    await db.users.create('alice', 'alice-pw', 'viewer');
    await storeInChunks(db, ORIGINAL, originals(times), lastSeen);
    await db.readings.storeReadings(V1, [1, 2, 3].map((s) => reading(BOOT, s)), { protocol: 'v1', receivedAt: lastSeen });
    await db.sql.transaction((sql) => sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND seq = 2', [V1]));
    web = await WebAdminUnderTest.start(db, undefined, { clock });
    ({ cookie } = await web.login('alice', 'alice-pw'));
  }, 30_000);
  afterAll(async () => {
    await web?.close();
    await db?.close();
    dir.remove();
  });

  it('shows an original device online while it is heard from within a few of its intervals, then stale, never offline', async () => {
    const within = ONLINE_INTERVALS * 60_000 + ORIGINAL_SEND_INTERVAL_MS;
    clock.set(lastSeen + within);
    expect((await fleetEntry(ORIGINAL))?.presence).toEqual({ state: 'online', basis: 'inferred', intervalMs: 60_000, onlineWithinMs: within, silentForMs: within });
    // The device's own page says the same as the fleet.
    expect((await getJson<{ presence: unknown }>(`/api/devices/${ORIGINAL}`)).presence).toEqual((await fleetEntry(ORIGINAL))?.presence);
    clock.set(lastSeen + within + 1);
    expect((await fleetEntry(ORIGINAL))?.presence).toMatchObject({ state: 'stale', basis: 'inferred', silentForMs: within + 1 });
    expect((await getJson<{ presence: unknown }>(`/api/devices/${ORIGINAL}`)).presence).toMatchObject({ state: 'stale', basis: 'inferred' });
    // Hours later (within the session's lifetime): still stale, not offline.
    clock.set(lastSeen + 6 * 3_600_000);
    expect((await fleetEntry(ORIGINAL))?.presence.state).toBe('stale');
    // A v1 device without a status message stays unknown: its presence comes from its status.
    expect((await fleetEntry(V1))?.presence).toMatchObject({ state: 'unknown', basis: 'status' });
    clock.set(lastSeen);
  });

  it('lists the suspected gaps and the clock-skew counts on the integrity report, and takes a factor', async () => {
    const { devices } = await getJson<{ devices: DeviceIntegrity[] }>('/api/integrity');
    const original = devices.find((d) => d.id === ORIGINAL);
    expect(original).toMatchObject({ unsequenced: times.length, clockSkewed: 0, missing: 0 });
    expect(original?.suspectedGaps?.gaps.map((g) => [g.from, g.to, g.estimatedMissing])).toEqual([...lost].reverse().map((l) => [l.after, l.before, l.missing]));
    expect(devices.find((d) => d.id === V1)).toMatchObject({ clockSkewed: 1, suspectedGaps: null, boots: [expect.objectContaining({ bootId: BOOT, clockSkewed: 1 })] });
    const strict = await getJson<{ devices: DeviceIntegrity[] }>('/api/integrity?factor=3');
    expect(strict.devices.find((d) => d.id === ORIGINAL)?.suspectedGaps).toMatchObject({ factor: 3, gapCount: 2 });
    for (const bad of ['factor=1', 'factor=three', 'factor=1001', 'colour=red']) expect((await get(`/api/integrity?${bad}`)).status, bad).toBe(400);
  });

  it('pages older suspected gaps with `next`, bounded per page, and validates the query', async () => {
    const seen: number[] = [];
    let path = `/api/devices/${ORIGINAL}/suspected-gaps?readings=700`;
    for (let pages = 0; pages < 10; pages++) {
      const page = await getJson<SuspectedGapScan>(path);
      expect(page.scanned).toBeLessThanOrEqual(700);
      seen.push(...page.gaps.map((g) => g.estimatedMissing));
      if (page.next === null) break;
      path = `/api/devices/${ORIGINAL}/suspected-gaps?readings=700&before=${page.next}`;
    }
    expect(seen).toEqual([1, 2558, 172]);
    for (const [query, status] of [
      ['before=yesterday', 400],
      ['readings=1', 400],
      ['readings=50001', 400],
      ['limit=0', 400],
      ['factor=0.5', 400],
      ['colour=red', 400],
    ] as const) {
      expect((await get(`/api/devices/${ORIGINAL}/suspected-gaps?${query}`)).status, query).toBe(status);
    }
    expect((await get('/api/devices/nope/suspected-gaps')).status).toBe(404);
    const doc = await getJson<{ paths: Record<string, unknown> }>('/api/openapi.json');
    expect(Object.keys(doc.paths)).toContain('/api/devices/{id}/suspected-gaps');
  });
});
