import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRequest } from '../../src/control/device-control.ts';
import { ControlError } from '../../src/control/device-control.ts';
import { type Database, openDatabase } from '../../src/db/index.ts';
import type { CommandControl } from '../../src/webadmin/api-routes.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const BOOT = 'a1b2c3d4';
const json = (body: unknown, extra: Record<string, string> = {}) => ({ headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });

/** Records what the admin asked for, like DeviceControl would before publishing. */
class FakeControl implements CommandControl {
  readonly sent: Array<{ deviceId: string; request: CommandRequest; ttlSeconds: number | undefined }> = [];
  async sendCommand(deviceId: string, request: CommandRequest, options: { ttlSeconds?: number } = {}): Promise<string> {
    if (request.command === ('explode' as never)) throw new ControlError('unknown_command', 'unknown command "explode"');
    this.sent.push({ deviceId, request, ttlSeconds: options.ttlSeconds });
    return 'cmd-1';
  }
  async setDesiredConfig(_deviceId: string, _config: Record<string, string>): Promise<number> {
    return 7;
  }
}

describe('web admin API over SQLite', () => {
  let db: Database;
  let web: WebAdminUnderTest;
  let bare: WebAdminUnderTest;
  const control = new FakeControl();
  const dir = makeTempDir('webadmin-api');
  let admin: { cookie: string; csrf: string; setCookie: string };
  let viewer: { cookie: string; csrf: string };

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'admin');
    await db.users.create('victor', 'victor-pw', 'viewer');
    // 12 readings, seq 1..12 at t = 1000·seq; seq 7 has hostile field names and text.
    await db.readings.storeReadings(
      'dev-1',
      Array.from({ length: 12 }, (_, i) => ({
        bootId: BOOT,
        seq: i + 1,
        streamId: `${1000 * (i + 1)}-0`,
        measuredAt: 1000 * (i + 1),
        values: i === 6 ? ({ temperature_celsius: -3.5, '=SUM(A1),"x"': 1, note: '=HYPERLINK("evil")' } as unknown as Record<string, number>) : { temperature_celsius: 20 + i },
      })),
    );
    web = await WebAdminUnderTest.start(db, control);
    bare = await WebAdminUnderTest.start(db);
    admin = await web.login('alice', 'alice-pw');
    viewer = await web.login('victor', 'victor-pw');
  }, 30_000);
  afterAll(async () => {
    await web?.close();
    await bare?.close();
    await db?.close();
    dir.remove();
  });

  it('logs in with JSON or a form, sets a strict HttpOnly cookie, and refuses a wrong password', async () => {
    expect(admin.setCookie).toMatch(/^iot_session=[A-Za-z0-9_-]{40,};/);
    expect(admin.setCookie).toContain('HttpOnly');
    expect(admin.setCookie).toContain('SameSite=Strict');
    expect(admin.setCookie).not.toContain('Secure');
    const form = await web.fetch('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=victor&password=victor-pw' });
    expect(form.status).toBe(200);
    expect(await form.json()).toMatchObject({ user: { username: 'victor', role: 'viewer' } });
    const wrong = await web.fetch('/login', { method: 'POST', ...json({ username: 'alice', password: 'nope' }) });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: 'login_failed', message: 'wrong username or password' } });
    expect((await web.fetch('/api/devices')).status).toBe(401);
    const session = await web.fetch('/api/session', { headers: { cookie: admin.cookie } });
    expect(await session.json()).toEqual({ user: { username: 'alice', role: 'admin' }, csrfToken: admin.csrf });
  });

  it('answers 429 with Retry-After after five failed logins for one user, other users unaffected', async () => {
    await db.users.create('mallory-target', 'right-pw', 'viewer');
    for (let i = 0; i < 5; i++) {
      expect((await web.fetch('/login', { method: 'POST', ...json({ username: 'mallory-target', password: `guess-${i}` }) })).status).toBe(401);
    }
    const limited = await web.fetch('/login', { method: 'POST', ...json({ username: 'mallory-target', password: 'right-pw' }) });
    expect(limited.status).toBe(429);
    // Until the oldest failure leaves the 15-minute window: positive, and never beyond the window.
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(900);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('too_many_attempts');
    expect((await web.fetch('/login', { method: 'POST', ...json({ username: 'victor', password: 'victor-pw' }) })).status).toBe(200);
  }, 20_000);

  it('refuses a state change without the CSRF token and accepts it with the token', async () => {
    const body = json({ command: 'stop_measuring' }, { cookie: admin.cookie });
    const missing = await web.fetch('/api/devices/dev-1/commands', { method: 'POST', ...body });
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('csrf');
    const wrong = await web.fetch('/api/devices/dev-1/commands', { method: 'POST', ...json({ command: 'stop_measuring' }, { cookie: admin.cookie, 'x-csrf-token': viewer.csrf }) });
    expect(wrong.status).toBe(403);
    expect(control.sent).toEqual([]);
    const ok = await web.fetch('/api/devices/dev-1/commands', { method: 'POST', ...json({ command: 'stop_measuring', ttl_seconds: 60 }, { cookie: admin.cookie, 'x-csrf-token': admin.csrf }) });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ id: 'cmd-1' });
    expect(control.sent).toEqual([{ deviceId: 'dev-1', request: { command: 'stop_measuring' }, ttlSeconds: 60 }]);
  });

  it('maps ControlError to 400, unknown devices to 404, and answers 503 without a control', async () => {
    const headers = { cookie: admin.cookie, 'x-csrf-token': admin.csrf };
    const bad = await web.fetch('/api/devices/dev-1/commands', { method: 'POST', ...json({ command: 'explode' }, headers) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'unknown_command', message: 'unknown command "explode"' } });
    const unknown = await web.fetch('/api/devices/ghost/commands', { method: 'POST', ...json({ command: 'reboot' }, headers) });
    expect(unknown.status).toBe(404);
    expect((await web.fetch('/api/devices/ghost', { headers })).status).toBe(404);
    const put = await web.fetch('/api/devices/dev-1/desired-config', { method: 'PUT', ...json({ config: { 'measurement:interval': '5' } }, headers) });
    expect(await put.json()).toEqual({ version: 7 });
    const other = await bare.login('alice', 'alice-pw');
    const none = await bare.fetch('/api/devices/dev-1/commands', { method: 'POST', ...json({ command: 'reboot' }, { cookie: other.cookie, 'x-csrf-token': other.csrf }) });
    expect(none.status).toBe(503);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(/^commands unavailable/);
  });

  it('lets a viewer read but not command, and accepts an API token without CSRF', async () => {
    const headers = { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf };
    expect((await web.fetch('/api/devices', { headers })).status).toBe(200);
    const refused = await web.fetch('/api/devices/dev-1/commands', { method: 'POST', ...json({ command: 'reboot' }, headers) });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect((await web.fetch('/api/devices/dev-1/desired-config', { method: 'PUT', ...json({ config: {} }, headers) })).status).toBe(403);

    const alice = await db.users.find('alice');
    const token = await db.users.createToken(alice!.id, 'script', { scope: 'full', expiresAt: Date.now() + 3600_000 });
    const before = control.sent.length;
    const byToken = await web.fetch('/api/devices/dev-1/commands', { method: 'POST', ...json({ command: 'reboot' }, { authorization: `Bearer ${token}` }) });
    expect(byToken.status).toBe(202);
    expect(control.sent.length).toBe(before + 1);
    const list = await web.fetch('/api/devices', { headers: { authorization: `Bearer ${token}` } });
    expect(((await list.json()) as { devices: { id: string }[] }).devices.map((d) => d.id)).toEqual(['dev-1']);
    expect((await web.fetch('/api/devices', { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
  });

  it('validates query parameters with a message naming the field', async () => {
    const headers = { cookie: viewer.cookie };
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['after=-1', 'after'],
      ['after=12', 'after'],
      ['order=sideways', 'order'],
      ['from=yesterday', 'from'],
      ['bogus=1', 'bogus'],
    ] as const) {
      const response = await web.fetch(`/api/devices/dev-1/readings?${query}`, { headers });
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message, query).toContain(field);
    }
    expect((await web.fetch('/api/rejections?offset=x', { headers })).status).toBe(400);
  });

  it('pages readings in time order with limit and a cursor, both directions, within a measured-at range', async () => {
    const headers = { cookie: viewer.cookie };
    const page = async (query: string) =>
      (await (await web.fetch(`/api/devices/dev-1/readings?${query}`, { headers })).json()) as { readings: { seq: number; id: number; measuredAt: number }[]; next: string | null };
    const first = await page('limit=5');
    expect(first.readings.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(first.next).toBe(`${first.readings[4]!.measuredAt}.${first.readings[4]!.id}`);
    const second = await page(`limit=5&after=${first.next}`);
    expect(second.readings.map((r) => r.seq)).toEqual([6, 7, 8, 9, 10]);
    const third = await page(`limit=5&after=${second.next}`);
    expect(third.readings.map((r) => r.seq)).toEqual([11, 12]);
    expect(third.next).toBeNull();
    const ranged = await page('from=3000&to=5000');
    expect(ranged.readings.map((r) => r.seq)).toEqual([3, 4, 5]);
    const newest = await page('limit=5&order=desc');
    expect(newest.readings.map((r) => r.seq)).toEqual([12, 11, 10, 9, 8]);
    const older = await page(`limit=5&order=desc&after=${newest.next}&from=4000`);
    expect(older.readings.map((r) => r.seq)).toEqual([7, 6, 5, 4]);
  });

  it('exports CSV with quoting and formula guards on untrusted names and text', async () => {
    const response = await web.fetch('/api/devices/dev-1/readings.csv?from=6000&to=8000', { headers: { cookie: viewer.cookie } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="dev-1-readings.csv"');
    const lines = (await response.text()).split('\r\n');
    // Columns sorted by code unit: '=' (0x3D) < 'n' < 't'. Text cells are quoted, numbers not.
    expect(lines[0]).toBe(`"id","measured_at","received_at","boot_id","seq","'=SUM(A1),""x""","note","temperature_celsius"`);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(new RegExp(`^\\d+,"1970-01-01T00:00:06\\.000Z","[^"]+","${BOOT}",6,,,25$`));
    expect(lines[2]).toMatch(new RegExp(`^\\d+,"1970-01-01T00:00:07\\.000Z","[^"]+","${BOOT}",7,1,"'=HYPERLINK\\(""evil""\\)",-3\\.5$`));
    expect(lines[3]).toMatch(/,8,,,27$/);
    expect(lines[4]).toBe('');
  });

  it('serves gaps, commands and rejections as JSON', async () => {
    const headers = { cookie: viewer.cookie };
    const gaps = (await (await web.fetch('/api/devices/dev-1/gaps', { headers })).json()) as { boots: { bootId: string; maxSeq: number; missing: unknown[] }[] };
    expect(gaps.boots).toEqual([expect.objectContaining({ bootId: BOOT, maxSeq: 12, missing: [] })]);
    await db.commands.create({ id: 'c-9', deviceId: 'dev-1', command: 'reboot', args: { command: 'reboot' }, createdAt: 5, expiresAt: 10 });
    const commands = (await (await web.fetch('/api/devices/dev-1/commands', { headers })).json()) as { commands: { id: string; state: string }[] };
    expect(commands.commands).toEqual([expect.objectContaining({ id: 'c-9', state: 'pending' })]);
    await db.rejections.recordRejection({ topic: 't/x', deviceId: 'dev-1', reason: 'not_json', detail: 'bad', payload: Buffer.from('{') } as never);
    const rejections = (await (await web.fetch('/api/rejections?limit=10', { headers })).json()) as { rejections: { reason: string }[]; total: number };
    expect(rejections.total).toBe(1);
    expect(rejections.rejections.map((r) => r.reason)).toEqual(['not_json']);
  });

  it('sets the security headers on every response, errors included', async () => {
    for (const response of [await web.fetch('/health'), await web.fetch('/api/devices'), await web.fetch('/nowhere')]) {
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
    const notFound = await web.fetch('/nowhere');
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /nowhere' } });
    const badJson = await web.fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' });
    expect(badJson.status).toBe(400);
    expect(await badJson.text()).not.toMatch(/at .*\.ts/);
  });

  it('describes every route in openapi.json', async () => {
    const doc = (await (await web.fetch('/api/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'POST /login',
        'POST /logout',
        'GET /health',
        'GET /metrics',
        'GET /api/openapi.json',
        'GET /api/session',
        'GET /api/devices',
        'GET /api/devices/{id}',
        'GET /api/devices/{id}/readings',
        'GET /api/devices/{id}/readings.csv',
        'GET /api/devices/{id}/gaps',
        'GET /api/devices/{id}/suspected-gaps',
        'GET /api/devices/{id}/commands',
        'POST /api/devices/{id}/commands',
        'PUT /api/devices/{id}/desired-config',
        'GET /api/rejections',
        'GET /api/fleet',
        'GET /api/devices/{id}/series',
        'PUT /api/devices/{id}/name',
        'GET /api/integrity',
        'GET /api/events',
        'GET /api/tokens',
        'POST /api/tokens/{id}/revoke',
        'GET /api/broadcasts',
        'POST /api/broadcasts',
        'GET /api/broadcasts/{id}',
        'GET /api/devices/{id}/broadcasts',
      ].sort(),
    );
  });

  it('reports health and Prometheus metrics, and logout ends the session', async () => {
    const health = await web.fetch('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'up' });
    const text = await (await web.fetch('/metrics')).text();
    expect(text).toContain('# TYPE webadmin_http_requests_total counter');
    expect(text).toMatch(/^webadmin_http_requests_total\{method="GET",route="\/api\/devices\/:id\/readings",status="400"\} 8$/m);
    expect(text).toMatch(/^iot_devices 1$/m);
    expect(text).toMatch(/^iot_readings 12$/m);

    const session = await web.login('victor', 'victor-pw');
    expect((await web.fetch('/logout', { method: 'POST', headers: { cookie: session.cookie } })).status).toBe(403);
    const out = await web.fetch('/logout', { method: 'POST', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await web.fetch('/api/session', { headers: { cookie: session.cookie } })).status).toBe(401);
  });
});
