import { makeTempDir } from '@iot/harness/processes';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { BrowserSession, chromiumAvailable, launchChromium } from './browser-harness.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/** The API tokens page in Chromium: admins list and revoke tokens; viewers are not offered it. */
describe.skipIf(!chromiumAvailable())('API tokens page in Chromium', () => {
  const dir = makeTempDir('webadmin-tokens-browser');
  let db: Database;
  let web: WebAdminUnderTest;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    const alice = await db.users.create('alice', 'alice-pw', 'admin');
    await db.users.create('victor', 'victor-pw', 'viewer');
    token = await db.users.createToken(alice.id, 'grafana <b>dash</b>', { scope: 'read', expiresAt: Date.now() + 3600_000 });
    await db.users.createToken(alice.id, 'deploy', { scope: 'full', expiresAt: Date.now() + 7200_000 });
    web = await WebAdminUnderTest.start(db);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await db?.close();
    dir.remove();
  });

  it('lists the tokens for an admin and revokes one after a confirmation', async () => {
    const session = await BrowserSession.open(browser, web.base);
    try {
      await session.login('alice', 'alice-pw');
      await session.page.getByRole('link', { name: 'API tokens' }).click();
      await session.page.waitForURL((u) => u.pathname === '/tokens');
      const row = session.page.locator('[data-testid="token-row"]', { hasText: 'grafana <b>dash</b>' });
      await row.waitFor({ timeout: 15_000 });
      expect(await session.page.getByTestId('token-row').count()).toBe(2);
      expect(await row.textContent()).toContain('read only');
      expect(await row.getByTestId('token-state').textContent()).toBe('active');
      session.acceptConfirm = true;
      await row.getByTestId('token-revoke').click();
      await row.locator('[data-testid="token-state"]', { hasText: 'revoked' }).waitFor({ timeout: 15_000 });
      expect(session.dialogs).toEqual(['confirm: Revoke the API token "grafana <b>dash</b>" of alice? Scripts using it stop working at once.']);
      expect((await web.fetch('/api/devices', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
      expect(await session.page.getByTestId('error-message').count()).toBe(0);
      expect(session.pageErrors).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('offers a viewer no tokens link, and the page itself says it needs the admin role', async () => {
    const session = await BrowserSession.open(browser, web.base);
    try {
      await session.login('victor', 'victor-pw');
      expect(await session.page.getByRole('link', { name: 'API tokens' }).count()).toBe(0);
      await session.page.goto('/tokens');
      await session.page.getByTestId('error-message').filter({ hasText: 'this needs the admin role' }).waitFor({ timeout: 15_000 });
    } finally {
      await session.close();
    }
  });
});
