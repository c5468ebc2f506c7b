import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { HOSTILE_DEVICE, PAST_LAST_DATE, PROTOTYPE_METRICS, seedHostileData } from './hostile-data.ts';
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
    const fleet = (await (await get('/api/fleet')).json()) as { devices: Array<{ device: { id: string; lastSeenAt: number } }> };
    expect(fleet.devices.map((d) => d.device.id)).toEqual([HOSTILE_DEVICE]);
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
});
