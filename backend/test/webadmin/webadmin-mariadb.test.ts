import { MariaDbServer } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, parseDatabaseUrl } from '../../src/db/index.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/** The same app on a real MariaDB: the second migration, the user store and the range query in that dialect. */
describe('web admin on MariaDB', () => {
  const server = new MariaDbServer();
  let db: Database;
  let web: WebAdminUnderTest;

  beforeAll(async () => {
    await server.start();
    db = await openDatabase(parseDatabaseUrl(await server.createDatabase('webadmin')), { migrate: true });
    await db.users.create('alice', 'alice-pw', 'admin');
    await db.readings.storeReadings(
      'dev-m',
      Array.from({ length: 7 }, (_, i) => ({ bootId: 'b0b0b0b0', seq: i + 1, streamId: `${i + 1}-0`, measuredAt: 100 * (i + 1), values: { humidity_percent: 40 + i } })),
    );
    web = await WebAdminUnderTest.start(db);
  }, 90_000);
  afterAll(async () => {
    await web?.close();
    await db?.close();
    await server.dispose();
  });

  it('refuses a duplicate username and a wrong password, accepts the right one and a token', async () => {
    await expect(db.users.create('alice', 'other', 'viewer')).rejects.toThrow('exists already');
    expect(await db.users.verify('alice', 'wrong')).toBeUndefined();
    expect(await db.users.verify('nobody', 'alice-pw')).toBeUndefined();
    expect(await db.users.verify('alice', 'alice-pw')).toMatchObject({ username: 'alice', role: 'admin' });
    const token = await db.users.createToken((await db.users.find('alice'))!.id, 'ci', { scope: 'full', expiresAt: Date.now() + 3600_000 });
    expect(token).toMatch(/^iotw_[A-Za-z0-9_-]{43}$/);
    const rows = (await db.dataSource.query('SELECT token_hash, last_used_at FROM api_tokens')) as { token_hash: string; last_used_at: unknown }[];
    expect(rows).toHaveLength(1);
    // Only the SHA-256 is stored, never the token.
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.token_hash).not.toContain(token);
    const session = await web.fetch('/api/session', { headers: { authorization: `Bearer ${token}` } });
    expect(await session.json()).toEqual({ user: { username: 'alice', role: 'admin' }, csrfToken: null });
  });

  it('pages readings in a range and exports them as CSV', async () => {
    const { cookie } = await web.login('alice', 'alice-pw');
    const response = await web.fetch('/api/devices/dev-m/readings?from=200&to=600&limit=3', { headers: { cookie } });
    const page = (await response.json()) as { readings: { seq: number; values: unknown }[]; next: number | null };
    expect(page.readings.map((r) => r.seq)).toEqual([2, 3, 4]);
    expect(page.readings[0]!.values).toEqual({ humidity_percent: 41 });
    const rest = (await (await web.fetch(`/api/devices/dev-m/readings?from=200&to=600&limit=3&after=${page.next}`, { headers: { cookie } })).json()) as {
      readings: { seq: number }[];
    };
    expect(rest.readings.map((r) => r.seq)).toEqual([5, 6]);
    const csv = (await (await web.fetch('/api/devices/dev-m/readings.csv?to=200', { headers: { cookie } })).text()).split('\r\n');
    expect(csv[0]).toBe('"id","measured_at","received_at","boot_id","seq","humidity_percent"');
    expect(csv.slice(1).map((line) => line.split(',').slice(3).join(','))).toEqual(['"b0b0b0b0",1,40', '"b0b0b0b0",2,41', '']);
  });

  it('reports the database as up and counts it in metrics', async () => {
    expect(await (await web.fetch('/health')).json()).toEqual({ status: 'ok', database: 'up' });
    const text = await (await web.fetch('/metrics')).text();
    expect(text).toMatch(/^iot_readings 7$/m);
    expect(text).toMatch(/^iot_devices 1$/m);
  });
});
