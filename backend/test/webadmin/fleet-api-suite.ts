import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import type { FleetPage } from '../../src/webadmin/fleet-overview.ts';
import type { DeviceIntegrity } from '../../src/db/integrity-store.ts';
import { manualClock } from '../db/store-suite.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const NOW = 1_800_000_000_000;
const FILLERS = 25;
/** Ids by the state the fleet is given in {@link seedFleet}. */
const ONLINE = ['alpha-01', 'orig-04'];
const OFFLINE = ['alpha-02'];
const STALE = ['orig-05'];
const DRIFTING = ['alpha-02'];
const fillers = Array.from({ length: FILLERS }, (_, i) => `fill-${String(i).padStart(2, '0')}`);
const ALL = ['alpha-01', 'alpha-02', 'beta-03', 'orig-04', 'orig-05', ...fillers];
/** Display names: alpha-01 is named, so it sorts as "Boiler room". */
const byName = [...ALL].sort((a, b) => (a === 'alpha-01' ? 'Boiler room' : a).localeCompare(b === 'alpha-01' ? 'Boiler room' : b, undefined, { sensitivity: 'base', numeric: true }));

const v1 = (bootId: string, seqs: readonly number[], at: (seq: number) => number) =>
  seqs.map((seq) => ({ bootId, seq, streamId: `${at(seq)}-0`, measuredAt: at(seq), values: { temperature_celsius: 20 + seq } }));
const original = (count: number, last: number) =>
  Array.from({ length: count }, (_, k) => {
    const at = last - (count - 1 - k) * 1000;
    return { bootId: null, seq: null, streamId: `${at}-0`, measuredAt: at, values: { humidity_percent: 40 + k } };
  });

/**
 * Through the real stores: two v1 devices with a status (online; offline with configuration
 * drift), one without status, two original devices at 1 Hz (heard from just now; an hour ago),
 * and fillers without status, one reading each.
 */
async function seedFleet(db: Database): Promise<void> {
  await db.readings.storeReadings('alpha-01', v1('a1', [1, 2, 3, 4, 5], (s) => NOW - 60_000 + s * 1000), { protocol: 'v1', receivedAt: NOW - 1000 });
  await db.devices.recordStatus('alpha-01', { online: true }, NOW - 1000);
  await db.devices.setName('alpha-01', 'Boiler room');
  await db.configs.setDesired('alpha-01', { 'measurement:interval': '5' }, NOW - 5000);
  await db.configs.setReported('alpha-01', 1, { 'measurement:interval': '5' }, null, NOW - 4000);
  await db.readings.storeReadings('alpha-02', v1('a2', [1, 2, 3], (s) => NOW - 7200_000 + s * 1000), { protocol: 'v1', receivedAt: NOW - 7000_000 });
  await db.devices.recordStatus('alpha-02', { online: false }, NOW - 7000_000);
  await db.configs.setDesired('alpha-02', { 'measurement:interval': '5', 'mqtt_sender:interval': '2' }, NOW - 5000);
  await db.configs.setReported('alpha-02', 0, { 'measurement:interval': '5', 'mqtt_sender:interval': '1' }, null, NOW - 4000);
  await db.readings.storeReadings('beta-03', v1('b3', [1, 2, 3, 4, 5, 6, 7, 8], (s) => NOW - 3600_000 + s * 1000), { protocol: 'v1', receivedAt: NOW - 3500_000 });
  await db.readings.storeReadings('orig-04', original(30, NOW - 1500), { protocol: 'original', receivedAt: NOW - 1000 });
  await db.readings.storeReadings('orig-05', original(30, NOW - 3600_000), { protocol: 'original', receivedAt: NOW - 3600_000 });
  for (const [i, id] of fillers.entries()) await db.readings.storeReadings(id, v1('f0', [1], () => NOW - 86_400_000 + i), { protocol: 'v1', receivedAt: NOW - 86_400_000 + i });
}

/**
 * GET /api/fleet and GET /api/integrity at fleet scale: search, filters, sort, paging and
 * validation, on any database. `countSelects`, where the database can tell, gives how many
 * SELECT statements the server has run so far.
 */
export function describeFleetApiSuite(name: string, open: () => Promise<Database>, countSelects?: (db: Database) => Promise<number>): void {
  describe(`fleet and integrity API on ${name}`, () => {
    const clock = manualClock(NOW);
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
    const fleet = (query: string) => getJson<FleetPage>(`/api/fleet${query}`);
    const ids = async (query: string) => (await fleet(query)).devices.map((e) => e.device.id);

    beforeAll(async () => {
      db = await open();
      await db.users.create('alice', 'alice-pw', 'viewer');
      await seedFleet(db);
      web = await WebAdminUnderTest.start(db, undefined, { clock });
      ({ cookie } = await web.login('alice', 'alice-pw'));
    }, 90_000);
    afterAll(async () => {
      await web?.close();
      await db?.close();
    });

    it('answers the first page by display name with the whole fleet’s figures, each entry with its readings, newest reading and drift', async () => {
      const page = await fleet('');
      expect(page).toMatchObject({ total: ALL.length, offset: 0, limit: 50, fleet: { devices: ALL.length, online: ONLINE.length, drifting: DRIFTING.length } });
      expect(page.devices.map((e) => e.device.id)).toEqual(byName);
      const beta = page.devices.find((e) => e.device.id === 'beta-03');
      expect(beta).toMatchObject({ readings: 8, latest: { measuredAt: NOW - 3600_000 + 8000, values: { temperature_celsius: 28 } }, drift: [], presence: { state: 'unknown', basis: 'status' } });
      expect(page.devices.find((e) => e.device.id === 'alpha-02')?.drift).toEqual([{ key: 'mqtt_sender:interval', desired: '2', reported: '1' }]);
      expect(page.devices.find((e) => e.device.id === 'orig-04')?.presence).toMatchObject({ state: 'online', basis: 'inferred', intervalMs: 1000 });
    });

    it('pages through every device exactly once, with the same total on each page, and answers an empty page past the end', async () => {
      const seen: string[] = [];
      for (let offset = 0; offset < ALL.length; offset += 7) {
        const page = await fleet(`?limit=7&offset=${offset}`);
        expect(page.total).toBe(ALL.length);
        expect(page.devices.length).toBe(Math.min(7, ALL.length - offset));
        seen.push(...page.devices.map((e) => e.device.id));
      }
      expect(seen).toEqual(byName);
      expect(await fleet(`?limit=7&offset=${ALL.length}`)).toMatchObject({ devices: [], total: ALL.length, offset: ALL.length });
    });

    it('searches ids and names as substrings in any case, wildcards meaning themselves', async () => {
      // By display name: alpha-01 is "Boiler room".
      expect(await ids('?q=ALPHA')).toEqual(['alpha-02', 'alpha-01']);
      expect(await ids('?q=boiler')).toEqual(['alpha-01']);
      expect(await ids('?q=%20ROOM')).toEqual(['alpha-01']);
      expect(await ids('?q=fill-1&limit=3')).toEqual(['fill-10', 'fill-11', 'fill-12']);
      expect((await fleet('?q=fill-1&limit=3')).total).toBe(10);
      for (const q of ['%25', '_', 'zzz']) expect(await fleet(`?q=${q}`)).toMatchObject({ devices: [], total: 0, fleet: { devices: ALL.length } });
    });

    it('filters by presence and by drift, alone and together with a search', async () => {
      expect((await ids('?status=online&sort=id')).sort()).toEqual(ONLINE);
      expect(await ids('?status=offline')).toEqual(OFFLINE);
      expect(await ids('?status=stale')).toEqual(STALE);
      expect((await fleet('?status=unknown')).total).toBe(1 + FILLERS);
      expect(await ids('?drift=drifting')).toEqual(DRIFTING);
      expect((await fleet('?drift=in-sync')).total).toBe(ALL.length - DRIFTING.length);
      expect(await ids('?drift=in-sync&status=online&q=alpha')).toEqual(['alpha-01']);
      expect(await ids('?drift=drifting&status=online')).toEqual([]);
    });

    it('sorts by id, last seen, readings and status either way, ties by id', async () => {
      expect(await ids('?sort=id')).toEqual([...ALL].sort());
      expect(await ids('?sort=id&order=desc')).toEqual([...ALL].sort().reverse());
      expect(await ids('?sort=readings&order=desc&limit=4')).toEqual(['orig-04', 'orig-05', 'beta-03', 'alpha-01']);
      expect(await ids('?sort=readings&limit=3')).toEqual(fillers.slice(0, 3));
      expect(await ids('?sort=last-seen&order=desc&limit=3')).toEqual(['alpha-01', 'orig-04', 'beta-03']);
      expect(await ids('?sort=status&limit=4')).toEqual(['alpha-01', 'orig-04', 'orig-05', 'alpha-02']);
      expect(await ids('?sort=status&order=desc&limit=2')).toEqual(['beta-03', 'fill-00']);
    });

    it('refuses bad parameters with a 400 naming each', async () => {
      const bad: Record<string, string> = {
        'limit=0': 'limit: must be at least 1',
        'limit=201': 'limit: must be at most 200',
        'limit=ten': 'limit: must be a non-negative integer',
        'offset=-1': 'offset: must be a non-negative integer',
        'status=sleeping': 'status: must be one of online, offline, stale, unknown',
        'drift=maybe': 'drift: must be one of drifting, in-sync',
        'sort=colour': 'sort: must be one of name, id, last-seen, readings, status',
        'order=up': 'order: must be one of asc, desc',
        [`q=${'x'.repeat(101)}`]: 'q: must be at most 100 characters',
        'colour=red': 'colour',
        'status=online&status=offline': 'status',
      };
      for (const [query, message] of Object.entries(bad)) {
        const response = await get(`/api/fleet?${query}`);
        expect(response.status, query).toBe(400);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code, query).toBe('invalid_request');
        expect(body.error.message, query).toContain(message);
      }
      for (const query of ['limit=0', 'limit=201', 'offset=x', `q=${'x'.repeat(101)}`, 'sort=id']) expect((await get(`/api/integrity?${query}`)).status, query).toBe(400);
    });

    it('pages the integrity report by id and searches it, with the total of all that match', async () => {
      const first = await getJson<{ devices: DeviceIntegrity[]; total: number; offset: number; limit: number }>('/api/integrity?limit=4');
      expect(first).toMatchObject({ total: ALL.length, offset: 0, limit: 4 });
      expect(first.devices.map((d) => d.id)).toEqual([...ALL].sort().slice(0, 4));
      expect(first.devices[0]).toMatchObject({ id: 'alpha-01', name: 'Boiler room', readings: 5, missing: 0, boots: [{ bootId: 'a1', readings: 5 }] });
      const all: string[] = [];
      for (let offset = 0; offset < ALL.length; offset += 4) all.push(...(await getJson<{ devices: DeviceIntegrity[] }>(`/api/integrity?limit=4&offset=${offset}`)).devices.map((d) => d.id));
      expect(all).toEqual([...ALL].sort());
      const originals = await getJson<{ devices: DeviceIntegrity[]; total: number }>('/api/integrity?q=ORIG');
      expect(originals.total).toBe(2);
      expect(originals.devices.map((d) => [d.id, d.unsequenced, d.suspectedGaps?.scanned])).toEqual([
        ['orig-04', 30, 30],
        ['orig-05', 30, 30],
      ]);
      expect(await getJson('/api/integrity?q=boiler')).toMatchObject({ total: 1, devices: [{ id: 'alpha-01' }] });
      expect(await getJson('/api/integrity?q=%25')).toMatchObject({ total: 0, devices: [] });
      expect(await getJson('/api/integrity?q=_')).toMatchObject({ total: 0, devices: [] });
    });

    it.skipIf(countSelects === undefined)('reads a page of the fleet in a few statements, however many devices the page holds', async () => {
      const statements = async (query: string): Promise<number> => {
        await fleet(query); // the interval cache is warm from here on
        const before = await (countSelects as (db: Database) => Promise<number>)(db);
        await fleet(query);
        return (await (countSelects as (db: Database) => Promise<number>)(db)) - before;
      };
      const small = await statements('?limit=1');
      const large = await statements(`?limit=${ALL.length}`);
      // Three scans for the index (devices and both halves of the twin), the page's rows, their newest readings.
      expect(small).toBeLessThanOrEqual(5);
      expect(large).toBe(small);
    });

    // Last: it adds a device.
    it('filters on the index the live round read while the rounds run, and reads its own once that is two periods old', async () => {
      await web.live.round();
      await db.readings.storeReadings('zeta-99', v1('z9', [1], () => NOW - 500), { protocol: 'v1', receivedAt: NOW - 500 });
      expect((await fleet('?q=zeta')).total).toBe(0);
      await web.live.round();
      expect(await ids('?q=zeta')).toEqual(['zeta-99']);
      await db.devices.setName('zeta-99', 'Zeppelin');
      // Which devices match is the round's; the rows shown are read for the request.
      expect((await fleet('?q=zeppelin')).total).toBe(0);
      expect((await fleet('?q=zeta')).devices[0]?.device.name).toBe('Zeppelin');
      clock.set(NOW + 2001);
      expect(await ids('?q=zeppelin')).toEqual(['zeta-99']);
    });
  });
}
