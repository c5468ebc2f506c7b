import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import type { DeviceIntegrity } from '../../src/db/integrity-store.ts';
import type { FleetEntry } from '../../src/webadmin/overview-routes.ts';
import { HOSTILE_DEVICE, HOSTILE_ORIGINAL, PAST_LAST_DATE, PROTOTYPE_METRICS, SKEWED_READINGS, seedHostileData } from './hostile-data.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/** The API over data no device should send: every answer a 200 with the data shown as it is. */
describe('web admin API over hostile stored data', () => {
  const dir = makeTempDir('webadmin-hostile');
  const now = Date.now();
  let db: Database;
  let web: WebAdminUnderTest;
  let cookie: string;
  const get = async (path: string) => {
    const response = await web.fetch(path, { headers: { cookie } });
    expect(response.status, path).toBe(200);
    return response;
  };

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'viewer');
    await seedHostileData(db, now);
    web = await WebAdminUnderTest.start(db);
    ({ cookie } = await web.login('alice', 'alice-pw'));
  }, 30_000);
  afterAll(async () => {
    await web?.close();
    await db?.close();
    dir.remove();
  });

  it('answers the fleet, the device and every page of its readings', async () => {
    const fleet = (await (await get('/api/fleet')).json()) as { devices: FleetEntry[] };
    expect(fleet.devices.map((d) => d.device.id)).toEqual([HOSTILE_DEVICE, HOSTILE_ORIGINAL]);
    // The original device's presence is inferred from readings that include garbage times.
    expect(fleet.devices[1]?.presence).toMatchObject({ basis: 'inferred', state: 'online', intervalMs: 60_000 });
    await get(`/api/devices/${HOSTILE_ORIGINAL}`);
    await get(`/api/devices/${HOSTILE_DEVICE}`);
    const seqs: number[] = [];
    for (let after: string | null = '', pages = 0; after !== null && pages < 10; pages++) {
      const page = (await (await get(`/api/devices/${HOSTILE_DEVICE}/readings?order=desc&limit=2${after === '' ? '' : `&after=${after}`}`)).json()) as {
        readings: Array<{ seq: number; values: Record<string, unknown> }>;
        next: string | null;
      };
      seqs.push(...page.readings.map((r) => r.seq));
      after = page.next;
    }
    // The REAL 1e300 is past every range a page asks for; all else is listed, newest first.
    expect(seqs).toEqual([4, 6, 3, 2, 1]);
  });

  it('serves chart series with metrics named like Object properties, raw and from rollups', async () => {
    for (const points of [600, 2]) {
      const series = (await (await get(`/api/devices/${HOSTILE_DEVICE}/series?from=${now - 7_200_000}&to=${now}&points=${points}`)).json()) as {
        resolution: string;
        metrics: Record<string, unknown>;
      };
      expect(series.resolution).toBe(points === 2 ? 'minute' : 'raw');
      for (const metric of PROTOTYPE_METRICS) {
        expect(Object.hasOwn(series.metrics, metric), `${points} ${metric}`).toBe(true);
        expect(Array.isArray(series.metrics[metric]), `${points} ${metric}`).toBe(true);
      }
    }
  });

  it('exports every reading as CSV to the end, an impossible time marked as such, no prototype leaking into cells', async () => {
    const text = await (await get(`/api/devices/${HOSTILE_DEVICE}/readings.csv`)).text();
    expect(text.endsWith('\r\n')).toBe(true);
    const lines = text.split('\r\n').slice(0, -1);
    expect(lines).toHaveLength(1 + 5);
    expect(text).toContain(`"invalid time (${PAST_LAST_DATE})","invalid time (${PAST_LAST_DATE + 1})"`);
    expect(text).not.toContain('function');
    expect(text).not.toContain('[object');
  });

  it('exports readings carrying the clock-skew flag like any other, also of an original device', async () => {
    const lines = (await (await get(`/api/devices/${HOSTILE_ORIGINAL}/readings.csv`)).text()).split('\r\n').slice(0, -1);
    // Header, three good readings and the flagged one; -8e15 lies before every range (from 0), 1e300 past it.
    expect(lines).toHaveLength(1 + 4);
  });

  it('counts the clock-skew flags and searches an original device for suspected gaps past garbage times', async () => {
    const { devices } = (await (await get('/api/integrity')).json()) as { devices: DeviceIntegrity[] };
    expect(devices.find((d) => d.id === HOSTILE_DEVICE)).toMatchObject({
      clockSkewed: SKEWED_READINGS,
      suspectedGaps: null,
      boots: [expect.objectContaining({ bootId: 'b0b0b0b0', clockSkewed: SKEWED_READINGS })],
    });
    const original = devices.find((d) => d.id === HOSTILE_ORIGINAL);
    // Considered: the three good readings and the unflagged one at -8e15; not the flagged one, not 1e300
    // (inserted by SQL past the counters, so they count 5 without sequence numbers).
    expect(original).toMatchObject({ clockSkewed: 1, unsequenced: 5, suspectedGaps: { scanned: 6, considered: 4, from: -8e15, next: null } });
    const page = await get(`/api/devices/${HOSTILE_ORIGINAL}/suspected-gaps?readings=2`);
    const { next } = (await page.json()) as { next: string | null };
    expect(next).toMatch(/^\d+\.\d+$/);
    await get(`/api/devices/${HOSTILE_ORIGINAL}/suspected-gaps?readings=2&before=${next}`);
  });
});
