import { makeTempDir } from '@iot/harness/processes';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONLINE_INTERVALS, ORIGINAL_SEND_INTERVAL_MS } from '../../src/db/cadence.ts';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { lossyHistory, originals, storeInChunks, T0 } from '../db/original-integrity-suite.ts';
import { manualClock, reading } from '../db/store-suite.ts';
import { BrowserSession, chromiumAvailable, launchChromium } from './browser-harness.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const LOSSY = 'orig-lossy';
/** Measures every second: its inferred presence turns stale seconds after it falls silent. */
const FAST = 'orig-fast';
const V1 = 'dev-v1';
const BOOT = 'b00700000000beef';

/**
 * The fleet and integrity pages in Chromium for devices running the original software
 * (docs/original-devices.md §4): presence labelled as inferred and turning stale without any
 * event, suspected gaps listed apart from sequence gaps and paged further back, clock-skew counts.
 * In-process web admin on SQLite, with a clock the test moves (live rounds are not run, so no
 * event reaches the page).
 */
describe.skipIf(!chromiumAvailable())('original devices on the web admin pages in Chromium', () => {
  const dir = makeTempDir('webadmin-original-browser');
  const lastSeen = T0 + 10_000_000;
  const clock = manualClock(lastSeen);
  const { lost } = lossyHistory();
  let db: Database;
  let web: WebAdminUnderTest;
  let browser: Browser;
  let session: BrowserSession;

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` }, { clock });
    await db.users.create('alice', 'alice-pw', 'viewer');
    await storeInChunks(db, LOSSY, originals(lossyHistory().times), lastSeen);
    await db.readings.storeReadings(FAST, originals(Array.from({ length: 30 }, (_, i) => lastSeen - 30_000 + i * 1000)), { protocol: 'original', receivedAt: lastSeen });
    await db.readings.storeReadings(V1, [1, 2, 3].map((s) => reading(BOOT, s)), { protocol: 'v1', receivedAt: lastSeen });
    await db.sql.transaction(async (sql) => {
      await sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND seq IN (1, 2)', [V1]);
      await sql.execute('UPDATE readings SET clock_skew = 1 WHERE device_id = ? AND measured_at < ?', [FAST, lastSeen - 25_000]);
    });
    web = await WebAdminUnderTest.start(db, undefined, { clock });
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

  it('labels an original device online as inferred, and turns it stale when it falls silent, with no event', async () => {
    const { page } = session;
    clock.set(lastSeen);
    await page.goto('/');
    const row = page.locator(`[data-testid="device-row"][data-device-id="${FAST}"]`);
    const badge = row.getByTestId('online-badge');
    await badge.and(page.locator('[data-state="online"]')).waitFor({ timeout: 15_000 });
    expect(await row.getByTestId('presence-basis').textContent()).toBe('no status from the original software; inferred from readings');
    expect(await page.getByTestId('fleet-summary').textContent()).toContain('2 online');
    expect(await row.getByTestId('measuring').textContent()).toBe('unknown · readings every ~1 s');
    // The v1 device without a status message shows no inferred presence.
    expect(await page.locator(`[data-testid="device-row"][data-device-id="${V1}"] [data-testid="online-badge"]`).getAttribute('data-state')).toBe('unknown');
    expect(await page.locator(`[data-testid="device-row"][data-device-id="${V1}"] [data-testid="presence-basis"]`).count()).toBe(0);

    // Silent past three intervals and the send interval: the page reloads the fleet by itself.
    clock.set(lastSeen + ONLINE_INTERVALS * 1000 + ORIGINAL_SEND_INTERVAL_MS + 5000);
    await badge.and(page.locator('[data-state="stale"]')).waitFor({ timeout: 20_000 });
    expect(await badge.textContent()).toBe('stale · 9 s');
    await session.screenshot('fleet-original-devices');
    expect(await page.getByTestId('error-message').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
  });

  it("shows the same inferred presence in the device page's header", async () => {
    const { page } = session;
    clock.set(lastSeen + ONLINE_INTERVALS * 1000 + ORIGINAL_SEND_INTERVAL_MS + 5000);
    await page.goto(`/devices/${FAST}`);
    const header = page.locator('.device-header');
    await header.getByTestId('online-badge').and(page.locator('[data-state="stale"]')).waitFor({ timeout: 15_000 });
    expect(await header.getByTestId('presence-basis').textContent()).toBe('no status from the original software; inferred from readings');
    await page.goto(`/devices/${V1}`);
    await page.locator('.device-header [data-testid="online-badge"][data-state="unknown"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.device-header [data-testid="presence-basis"]').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
    clock.set(lastSeen);
  });

  it('lists suspected gaps apart from sequence gaps, pages older ones, and shows the clock-skew counts', async () => {
    const { page } = session;
    await page.goto('/integrity');
    const card = page.locator(`[data-testid="integrity-device"][data-device-id="${LOSSY}"]`);
    await card.getByTestId('suspected-gaps').waitFor({ timeout: 15_000 });
    expect(await card.getByTestId('suspected-gaps-count').textContent()).toBe('3 suspected gaps');
    expect(await card.getByTestId('suspected-gap-missing').allTextContents()).toEqual([...lost].reverse().map((l) => String(l.missing)));
    expect(await card.getByTestId('integrity-missing').textContent()).toBe('0');
    expect(await card.getByTestId('suspected-gaps-summary').textContent()).toContain('among the newest 2000 readings');
    await card.getByTestId('suspected-gaps-older').click();
    await card.getByTestId('suspected-gaps-end').waitFor();
    expect(await card.getByTestId('suspected-gaps-summary').textContent()).toContain('among the newest 2300 readings');

    const v1 = page.locator(`[data-testid="integrity-device"][data-device-id="${V1}"]`);
    expect(await v1.getByTestId('integrity-clock-skew').textContent()).toContain('2');
    expect(await v1.getByTestId('integrity-clock-skew').textContent()).toContain('clock skew: measured at a time implausible for its arrival');
    expect(await v1.getByTestId('boot-clock-skew').textContent()).toBe('2');
    expect(await v1.getByTestId('suspected-gaps').count()).toBe(0);
    const fast = page.locator(`[data-testid="integrity-device"][data-device-id="${FAST}"]`);
    expect(await fast.getByTestId('integrity-clock-skew').textContent()).toContain('5');
    await session.screenshot('integrity-original-devices');
    expect(await page.getByTestId('error-message').count()).toBe(0);
    expect(session.pageErrors).toEqual([]);
  });
});
