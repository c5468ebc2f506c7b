import { makeTempDir } from '@iot/harness/processes';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/** Live stream slots: no user, session or token can take them all, and admins always find one. */
describe('live stream limits', () => {
  const dir = makeTempDir('webadmin-streams');
  let db: Database;
  let web: WebAdminUnderTest;
  let small: WebAdminUnderTest;
  const streams: AbortController[] = [];
  const tokenOf = async (username: string) => db.users.createToken((await db.users.find(username))!.id, 'stream', { scope: 'full', expiresAt: Date.now() + 3600_000 });

  /** Opens a stream; @returns its status (the body stays open until the test ends). */
  const open = async (server: WebAdminUnderTest, headers: Record<string, string>): Promise<number> => {
    const controller = new AbortController();
    streams.push(controller);
    const response = await server.fetch('/api/events', { headers, signal: controller.signal });
    if (response.status !== 200) await response.body?.cancel();
    return response.status;
  };
  const tally = (statuses: readonly number[]) => {
    const counts: Record<number, number> = {};
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  };

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'admin');
    for (const name of ['victor', 'vera', 'vince', 'vicky']) await db.users.create(name, 'pw', 'viewer');
    web = await WebAdminUnderTest.start(db);
    small = await WebAdminUnderTest.start(db, undefined, { streamLimits: { total: 8, perUser: 3, perSession: 2, adminReserve: 2 } });
  }, 30_000);
  afterEach(async () => {
    for (const controller of streams.splice(0)) controller.abort();
    await vi.waitFor(() => expect([web.streams.open, small.streams.open]).toEqual([0, 0]), { timeout: 5000 });
  });
  afterAll(async () => {
    await web?.close();
    await small?.close();
    await db?.close();
    dir.remove();
  });

  it('gives one viewer token holding 200 streams only its share, and an admin still gets a stream', async () => {
    const headers = { authorization: `Bearer ${await tokenOf('victor')}` };
    const statuses = await Promise.all(Array.from({ length: 200 }, () => open(web, headers)));
    expect(tally(statuses)).toEqual({ 200: 6, 429: 194 });
    const admin = await web.login('alice', 'alice-pw');
    expect(await open(web, { cookie: admin.cookie })).toBe(200);
  });

  it('limits streams per session and per user, and keeps the admins their reserve when the viewers hold the rest', async () => {
    const victor = [await small.login('victor', 'pw'), await small.login('victor', 'pw')];
    // Per session: 2; a second session of the same user gets the third of the user's 3.
    expect([await open(small, { cookie: victor[0]!.cookie }), await open(small, { cookie: victor[0]!.cookie }), await open(small, { cookie: victor[0]!.cookie })]).toEqual([200, 200, 429]);
    expect([await open(small, { cookie: victor[1]!.cookie }), await open(small, { cookie: victor[1]!.cookie })]).toEqual([200, 429]);
    // Viewers together get total − reserve = 6: vera takes 2, vince 1, and vicky none.
    const vera = await small.login('vera', 'pw');
    const vince = await small.login('vince', 'pw');
    const vicky = await small.login('vicky', 'pw');
    expect([await open(small, { cookie: vera.cookie }), await open(small, { cookie: vera.cookie }), await open(small, { cookie: vince.cookie })]).toEqual([200, 200, 200]);
    const full = await small.fetch('/api/events', { headers: { cookie: vicky.cookie } });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('30');
    expect(((await full.json()) as { error: { code: string } }).error.code).toBe('streams_full');
    // The admins' 2 are still there.
    const alice = await small.login('alice', 'alice-pw');
    expect([await open(small, { cookie: alice.cookie }), await open(small, { cookie: alice.cookie })]).toEqual([200, 200]);
    expect(small.streams.open).toBe(8);
  });

  it('gives a slot back when its stream closes', async () => {
    const vera = await small.login('vera', 'pw');
    const first = new AbortController();
    const response = await small.fetch('/api/events', { headers: { cookie: vera.cookie }, signal: first.signal });
    expect(response.status).toBe(200);
    expect(await open(small, { cookie: vera.cookie })).toBe(200);
    expect(await open(small, { cookie: vera.cookie })).toBe(429);
    first.abort();
    await vi.waitFor(() => expect(small.streams.open).toBe(1), { timeout: 5000 });
    expect(await open(small, { cookie: vera.cookie })).toBe(200);
  });
});
