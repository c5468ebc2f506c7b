import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRequest } from '../../src/control/device-control.ts';
import { type Database, openDatabase } from '../../src/db/index.ts';
import type { CommandControl } from '../../src/webadmin/api-routes.ts';
import { manualClock } from '../db/store-suite.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const CLI = fileURLToPath(new URL('../../src/cli/webadmin-user.ts', import.meta.url));
const HOUR = 3600_000;

class FakeControl implements CommandControl {
  readonly sent: CommandRequest[] = [];
  async sendCommand(_deviceId: string, request: CommandRequest): Promise<string> {
    this.sent.push(request);
    return 'cmd-1';
  }
  async setDesiredConfig(): Promise<number> {
    return 1;
  }
}

/** API tokens: scope, expiry, revocation and last use, over the API and from the CLI. */
describe('API tokens', () => {
  const dir = makeTempDir('webadmin-tokens');
  const path = `${dir.path}/db.sqlite`;
  // Token expiry and last use follow the store's clock, which the test moves.
  const clock = manualClock(Date.now());
  let db: Database;
  let web: WebAdminUnderTest;
  let alice: { cookie: string; csrf: string };
  let aliceId: number;
  const control = new FakeControl();
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const command = (token: string) => web.fetch('/api/devices/dev-1/commands', { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body: JSON.stringify({ command: 'reboot' }) });
  // Asynchronous: a test process blocked in spawnSync for seconds (a loaded machine) misses the web
  // admin closing an idle keep-alive socket, and its next fetch on that socket gets ECONNRESET.
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: `sqlite:${path}` }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path }, { clock });
    aliceId = (await db.users.create('alice', 'alice-pw', 'admin')).id;
    await db.users.create('victor', 'victor-pw', 'viewer');
    await db.readings.storeReadings('dev-1', [{ bootId: 'b1', seq: 1, streamId: '1-0', measuredAt: 1, values: { t: 1 } }]);
    web = await WebAdminUnderTest.start(db, control);
    alice = await web.login('alice', 'alice-pw');
  }, 30_000);
  afterAll(async () => {
    await web?.close();
    await db?.close();
    dir.remove();
  });

  it('lets a read-scoped token of an admin read but change nothing', async () => {
    const token = await db.users.createToken(aliceId, 'grafana', { scope: 'read', expiresAt: clock.now() + HOUR });
    expect((await web.fetch('/api/devices', { headers: bearer(token) })).status).toBe(200);
    expect(await (await web.fetch('/api/session', { headers: bearer(token) })).json()).toEqual({ user: { username: 'alice', role: 'viewer' }, csrfToken: null });
    const refused = await command(token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('read_only_token');
    expect((await web.fetch('/api/tokens', { headers: bearer(token) })).status).toBe(403);
    expect(control.sent).toEqual([]);
    const full = await db.users.createToken(aliceId, 'deploy', { scope: 'full', expiresAt: clock.now() + HOUR });
    expect((await command(full)).status).toBe(202);
  });

  it('refuses a token once it expired', async () => {
    const token = await db.users.createToken(aliceId, 'short', { scope: 'read', expiresAt: clock.now() + 1000 });
    expect((await web.fetch('/api/devices', { headers: bearer(token) })).status).toBe(200);
    clock.set(clock.now() + 1000);
    const expired = await web.fetch('/api/devices', { headers: bearer(token) });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toContain('expired');
    await expect(db.users.createToken(aliceId, 'forever', { scope: 'read', expiresAt: clock.now() + 400 * 24 * HOUR })).rejects.toThrow('expiry');
    await expect(db.users.createToken(aliceId, 'past', { scope: 'read', expiresAt: clock.now() })).rejects.toThrow('expiry');
    await expect(db.users.createToken(aliceId, 'odd', { scope: 'admin' as never, expiresAt: clock.now() + HOUR })).rejects.toThrow('scope');
  });

  it('lists tokens with scope, expiry and last use for admins, and revokes one with CSRF', async () => {
    const token = await db.users.createToken(aliceId, 'to-revoke', { scope: 'read', expiresAt: clock.now() + HOUR });
    expect((await web.fetch('/api/devices', { headers: bearer(token) })).status).toBe(200);
    const listed = (await (await web.fetch('/api/tokens', { headers: { cookie: alice.cookie } })).json()) as { tokens: Array<Record<string, unknown>> };
    const entry = listed.tokens.find((t) => t.name === 'to-revoke');
    expect(entry).toMatchObject({ username: 'alice', scope: 'read', state: 'active', expiresAt: clock.now() + HOUR, lastUsedAt: clock.now(), revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(token);
    const id = entry?.id as number;

    const victor = await web.login('victor', 'victor-pw');
    expect((await web.fetch('/api/tokens', { headers: { cookie: victor.cookie } })).status).toBe(403);
    expect((await web.fetch(`/api/tokens/${id}/revoke`, { method: 'POST', headers: { cookie: victor.cookie, 'x-csrf-token': victor.csrf } })).status).toBe(403);
    expect((await web.fetch(`/api/tokens/${id}/revoke`, { method: 'POST', headers: { cookie: alice.cookie } })).status).toBe(403);
    const bad = await web.fetch('/api/tokens/abc/revoke', { method: 'POST', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^id: /);
    expect((await web.fetch('/api/tokens/999999/revoke', { method: 'POST', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } })).status).toBe(404);

    const revoked = await web.fetch(`/api/tokens/${id}/revoke`, { method: 'POST', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { token: unknown }).token).toMatchObject({ id, state: 'revoked', revokedAt: clock.now() });
    expect((await web.fetch('/api/devices', { headers: bearer(token) })).status).toBe(401);
  });

  it('makes, lists and revokes tokens from the CLI, read-only and expiring by default', async () => {
    const made = await cli(['token', '--username', 'ALICE', '--name', 'cli-token']);
    expect(made).toMatchObject({ code: 0, stderr: '' });
    const token = made.stdout.trim();
    expect(token).toMatch(/^iotw_[A-Za-z0-9_-]{43}$/);
    expect((await command(token)).status).toBe(403);
    expect((await web.fetch('/api/devices', { headers: bearer(token) })).status).toBe(200);

    const list = await cli(['tokens', '--username', 'alice']);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trim().split('\n');
    expect(header).toBe('id\tuser\tname\tscope\tstate\tcreated\texpires\tlast_used');
    const row = rows.map((r) => r.split('\t')).find((r) => r[2] === 'cli-token');
    expect(row?.slice(1, 5)).toEqual(['alice', 'cli-token', 'read', 'active']);
    const days = (Date.parse(row?.[6] ?? '') - Date.parse(row?.[5] ?? '')) / (24 * HOUR);
    expect(Math.round(days)).toBe(90);
    expect(list.stdout).not.toContain(token);

    expect(await cli(['revoke-token', '--id', row?.[0] ?? ''])).toMatchObject({ code: 0, stdout: `revoked API token ${row?.[0]} ("cli-token" of alice)\n` });
    expect((await web.fetch('/api/devices', { headers: bearer(token) })).status).toBe(401);
    expect(await cli(['revoke-token', '--id', '999999'])).toMatchObject({ code: 1, stderr: 'webadmin-user: no API token 999999\n' });

    const full = await cli(['token', '--username', 'alice', '--name', 'deploy', '--scope', 'full', '--expires-days', '7']);
    expect(full.code).toBe(0);
    expect((await command(full.stdout.trim())).status).toBe(202);
    for (const [args, option] of [
      [['--scope', 'admin'], '--scope'],
      [['--expires-days', '0'], '--expires-days'],
      [['--expires-days', '366'], '--expires-days'],
      [['--expires-days', 'soon'], '--expires-days'],
    ] as const) {
      const refused = await cli(['token', '--username', 'alice', '--name', 'x', ...args]);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toContain(option);
    }
  }, 60_000);
});
