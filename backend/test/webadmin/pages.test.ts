import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { createWebAdmin } from '../../src/webadmin/app.ts';
import { buildClientAssets, type ClientAssets } from '../../src/webadmin/client-assets.ts';
import { escapeHtml } from '../../src/webadmin/pages.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/** A clock the test moves, so a session can be made to expire. */
class ManualClock implements Clock {
  time = Date.now();
  now(): number {
    return this.time;
  }
  async sleep(): Promise<void> {}
}

const HOUR = 3600_000;

/** A web admin on its own clock, so a session can be made to expire. */
async function startWithClock(db: Database, assets: ClientAssets, clock: Clock): Promise<{ base: string; server: Server }> {
  const { app } = createWebAdmin({ db, clock, logger: silentLogger(), assets, secureCookies: false, sessionTtlMs: HOUR });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('web admin pages and client assets', () => {
  const dir = makeTempDir('webadmin-pages');
  let db: Database;
  let assets: ClientAssets;
  let web: WebAdminUnderTest;
  let cookie: string;

  const get = (path: string, headers: Record<string, string> = {}) => web.fetch(path, { headers, redirect: 'manual' });

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'admin');
    await db.users.create('eve', 'eve-pw', 'viewer');
    assets = await buildClientAssets();
    web = await WebAdminUnderTest.start(db);
    ({ cookie } = await web.login('alice', 'alice-pw'));
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await db?.close();
    dir.remove();
  });

  it('bundles the client into one browser module and one stylesheet, each with a strong sha256 ETag', () => {
    const js = assets.js.body.toString('utf8');
    expect(assets.js.contentType).toBe('text/javascript; charset=utf-8');
    // Bundled: no module imports left for the browser to resolve, and the page dispatch is in it.
    expect(js).not.toMatch(/\bimport\s*[{*"']/);
    expect(js).toContain('/api/events');
    expect(js).toContain('data-testid');
    expect(js).not.toContain('innerHTML');
    expect(assets.css.contentType).toBe('text/css; charset=utf-8');
    const css = assets.css.body.toString('utf8');
    // The stylesheet's imports are inlined: one request, and every part is there.
    expect(css).not.toContain('@import');
    expect(css).toContain('.cards-on-phone');
    expect(css).toContain('.site-header');
    expect(css).toMatch(/@media ?\(max-width: ?720px\)/);
    for (const asset of [assets.js, assets.css]) {
      expect(asset.etag).toBe(`"${createHash('sha256').update(asset.body).digest('base64url')}"`);
    }
  });

  it('reports a client that does not bundle as an error naming the file and line', async () => {
    const broken = makeTempDir('webadmin-broken-client');
    try {
      mkdirSync(broken.path, { recursive: true });
      writeFileSync(`${broken.path}/main.ts`, "import { missing } from './nowhere.ts';\nmissing(\n");
      writeFileSync(`${broken.path}/app.css`, 'body {}\n');
      await expect(buildClientAssets(broken.path)).rejects.toThrow(/web admin client bundle failed:\n.*main\.ts:\d+:\d+: /);
    } finally {
      broken.remove();
    }
  });

  it('serves the assets to anyone with ETag, no-cache and 304 on a matching If-None-Match', async () => {
    for (const [path, asset] of [
      ['/assets/app.js', assets.js],
      ['/assets/app.css', assets.css],
    ] as const) {
      const first = await get(path);
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toBe(asset.contentType);
      expect(first.headers.get('cache-control')).toBe('no-cache');
      expect(first.headers.get('etag')).toBe(asset.etag);
      expect(Buffer.from(await first.arrayBuffer()).equals(asset.body)).toBe(true);

      const again = await get(path, { 'if-none-match': asset.etag });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(asset.etag);
      expect(await again.text()).toBe('');
      expect((await get(path, { 'if-none-match': `"other", W/${asset.etag}` })).status).toBe(304);
      const changed = await get(path, { 'if-none-match': '"an-older-version"' });
      expect(changed.status).toBe(200);
      await changed.arrayBuffer();
    }
  });

  it('sends pages other than the login to /login (303, coming back afterwards) without a valid session', async () => {
    for (const path of ['/', '/integrity', '/devices/dev-1']) {
      for (const headers of [{}, { cookie: 'iot_session=forged-session-id' }] as Array<Record<string, string>>) {
        const response = await get(path, headers);
        expect(response.status, `${path} ${JSON.stringify(headers)}`).toBe(303);
        expect(response.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
      }
    }
    const login = await get('/login');
    expect(login.status).toBe(200);
    const html = await login.text();
    expect(html).toContain('data-page="login"');
    expect(html).not.toContain('id="logout"');
  });

  it('renders each page shell for a logged-in user: viewport, assets, nav, user, page name, no inline script or style', async () => {
    for (const [path, page] of [
      ['/', 'fleet'],
      ['/integrity', 'integrity'],
      ['/devices/dev-1', 'device'],
      ['/login', 'login'],
    ] as const) {
      const response = await get(path, { cookie });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
      const html = await response.text();
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(html).toContain('<link rel="stylesheet" href="/assets/app.css">');
      expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
      expect(html).toContain(`<main id="app" data-page="${page}"`);
      // The CSP would block these, so the shell must not rely on them.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\sstyle=|<style/);
      if (page !== 'login') {
        expect(html).toContain('href="/integrity"');
        expect(html).toContain('<span class="user" data-testid="user-name">alice</span>');
        expect(html).toContain('data-testid="user-role">admin</span>');
        expect(html).toContain('id="logout"');
      }
    }
    expect(await (await get('/devices/dev-1', { cookie })).text()).toContain('data-device-id="dev-1"');
  });

  it('escapes a hostile device id from the URL', async () => {
    const hostile = `<script>alert(1)</script>"'&x=<img src=x onerror=alert(2)>`;
    const response = await get(`/devices/${encodeURIComponent(hostile)}`, { cookie });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img');
    expect(html).toContain(escapeHtml(hostile));
    const attribute = /data-device-id="([^"]*)"/.exec(html)?.[1];
    const unescaped = attribute?.replace(/&(lt|gt|quot|#39|amp);/g, (_, name: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[name] ?? '');
    expect(unescaped).toBe(hostile);
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it("shows the logged-in user's own name and role", async () => {
    const eve = await web.login('eve', 'eve-pw');
    const fleet = await (await get('/', { cookie: eve.cookie })).text();
    expect(fleet).toContain('data-testid="user-name">eve</span>');
    expect(fleet).toContain('data-testid="user-role">viewer</span>');
    // The API tokens page is for admins: only they are offered it.
    expect(fleet).not.toContain('href="/tokens"');
    const tokens = await (await get('/tokens', { cookie })).text();
    expect(tokens).toContain('<main id="app" data-page="tokens"');
    expect(tokens).toContain('<a href="/tokens" aria-current="page">API tokens</a>');
  });

  it('escapes the five HTML metacharacters and nothing else', () => {
    expect(escapeHtml(`a&b<c>d"e'f ü €`)).toBe('a&amp;b&lt;c&gt;d&quot;e&#39;f ü €');
    expect(escapeHtml('&amp;')).toBe('&amp;amp;');
  });

  it('redirects once the session has expired or the user logged out', async () => {
    const clock = new ManualClock();
    const site = await startWithClock(db, assets, clock);
    const at = (path: string, cookie: string) => fetch(`${site.base}${path}`, { headers: { cookie }, redirect: 'manual' });
    const login = async () => {
      const response = await fetch(`${site.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-pw' }) });
      const { csrfToken } = (await response.json()) as { csrfToken: string };
      return { cookie: (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '', csrf: csrfToken };
    };
    try {
      const expiring = await login();
      expect((await at('/integrity', expiring.cookie)).status).toBe(200);
      clock.time += HOUR - 1;
      expect((await at('/integrity', expiring.cookie)).status).toBe(200);
      clock.time += 1;
      expect((await at('/integrity', expiring.cookie)).status).toBe(303);

      const leaving = await login();
      expect((await at('/', leaving.cookie)).status).toBe(200);
      const logout = await fetch(`${site.base}/logout`, { method: 'POST', headers: { cookie: leaving.cookie, 'x-csrf-token': leaving.csrf } });
      expect(logout.status).toBe(204);
      expect((await at('/', leaving.cookie)).status).toBe(303);
    } finally {
      site.server.closeAllConnections();
      await new Promise<void>((resolve) => site.server.close(() => resolve()));
    }
  });
});
