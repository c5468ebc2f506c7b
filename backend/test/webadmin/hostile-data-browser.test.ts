import { makeTempDir } from '@iot/harness/processes';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { BrowserSession, chromiumAvailable, launchChromium } from './browser-harness.ts';
import { HOSTILE_DEVICE, HOSTILE_ORIGINAL, PAST_LAST_DATE, SKEWED_READINGS, seedHostileData } from './hostile-data.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

/**
 * The fleet and device pages in Chromium over data no device should send (hostile-data.ts): they
 * render, show impossible times as a marker, chart metrics named like Object properties, and show
 * no error. In-process web admin on SQLite; the full-stack browser test is browser.test.ts.
 */
describe.skipIf(!chromiumAvailable())('web admin pages in Chromium over hostile stored data', () => {
  const dir = makeTempDir('webadmin-hostile-browser');
  let db: Database;
  let web: WebAdminUnderTest;
  let browser: Browser;
  let session: BrowserSession;

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'viewer');
    await seedHostileData(db, Date.now());
    web = await WebAdminUnderTest.start(db);
    browser = await launchChromium();
    session = await BrowserSession.open(browser, web.base);
    await session.login('alice', 'alice-pw');
  }, 60_000);
  afterAll(async () => {
    await session?.close();
    await browser?.close();
    await web?.close();
    await db?.close();
    dir.remove();
  });

  it('shows the fleet with impossible times marked, and no error', async () => {
    const { page } = session;
    await page.goto('/');
    const row = page.locator(`[data-testid="device-row"][data-device-id="${HOSTILE_DEVICE}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.getByTestId('last-seen').textContent()).toBe(`invalid time (${PAST_LAST_DATE + 2})`);
    expect(await row.getByTestId('latest-values').textContent()).toContain('invalid time (1e+300)');
    // The original device's presence, inferred from readings with garbage times among them.
    const original = page.locator(`[data-testid="device-row"][data-device-id="${HOSTILE_ORIGINAL}"]`);
    expect(await original.getByTestId('presence-basis').textContent()).toBe('no status from the original software; inferred from readings');
    expect(await page.getByTestId('error-message').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
  });

  it('shows the device page: header, readings with impossible times marked, a chart per metric, and no error', async () => {
    const { page } = session;
    await page.goto(`/devices/${HOSTILE_DEVICE}`);
    await page.getByTestId('readings-table').waitFor({ timeout: 15_000 });
    await page.getByTestId('chart-constructor').waitFor({ timeout: 15_000 });
    for (const metric of ['__proto__', 'toString', 'hasOwnProperty', 'temperature_celsius']) await page.getByTestId(`chart-${metric}`).waitFor();
    expect(await page.getByTestId('latest-reading').textContent()).toContain('invalid time (1e+300)');
    const newest = page.getByTestId('reading-row').first();
    expect(await newest.textContent()).toContain(`invalid time (${PAST_LAST_DATE})`);
    expect(await newest.textContent()).toContain(`invalid time (${PAST_LAST_DATE + 1})`);
    // A reading without a `constructor` field shows an empty cell, not Object's constructor.
    expect(await page.getByTestId('readings-table').textContent()).not.toContain('function');
    expect(await page.getByTestId('error-message').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
  });

  it('shows the integrity page with clock-skew counts and an original device searched past garbage times, and no error', async () => {
    const { page } = session;
    await page.goto('/integrity');
    const odd = page.locator(`[data-testid="integrity-device"][data-device-id="${HOSTILE_DEVICE}"]`);
    await odd.waitFor({ timeout: 15_000 });
    expect(await odd.getByTestId('boot-clock-skew').textContent()).toBe(String(SKEWED_READINGS));
    const original = page.locator(`[data-testid="integrity-device"][data-device-id="${HOSTILE_ORIGINAL}"]`);
    await original.getByTestId('suspected-gaps-summary').waitFor();
    expect(await original.getByTestId('integrity-clock-skew').textContent()).toContain('1');
    expect(await page.getByTestId('error-message').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
  });

  it('shows the device page of the original device, whose readings carry the flag and garbage times, and no error', async () => {
    const { page } = session;
    await page.goto(`/devices/${HOSTILE_ORIGINAL}`);
    await page.getByTestId('readings-table').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('error-message').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
  });
});
