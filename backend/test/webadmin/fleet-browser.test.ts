import { makeTempDir } from '@iot/harness/processes';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/index.ts';
import { BrowserSession, chromiumAvailable, launchChromium, PHONE } from './browser-harness.ts';
import { WebAdminUnderTest } from './webadmin-harness.ts';

const DEVICES = 60;
const id = (i: number) => `dev-${String(i).padStart(2, '0')}`;
/** Every 7th device is online; dev-33 has the most readings. */
const ONLINE = Array.from({ length: DEVICES }, (_, i) => i).filter((i) => i % 7 === 0);

/** The fleet page in Chromium over a fleet larger than one page: search, filter, sort and paging done by the server. */
describe.skipIf(!chromiumAvailable())('fleet page at fleet scale in Chromium', () => {
  const dir = makeTempDir('webadmin-fleet-browser');
  let db: Database;
  let web: WebAdminUnderTest;
  let browser: Browser;
  const now = Date.now();

  beforeAll(async () => {
    db = await openDatabase({ kind: 'sqlite', path: `${dir.path}/db.sqlite` });
    await db.users.create('alice', 'alice-pw', 'viewer');
    for (let i = 0; i < DEVICES; i++) {
      const count = i === 33 ? 9 : 1 + (i % 3);
      const readings = Array.from({ length: count }, (_, k) => ({ bootId: 'b1', seq: k + 1, streamId: `${now - 60_000 + k}-0`, measuredAt: now - 60_000 + k, values: { temperature_celsius: i + k } }));
      await db.readings.storeReadings(id(i), readings, { protocol: 'v1', receivedAt: now - 30_000 });
      await db.devices.recordStatus(id(i), { online: ONLINE.includes(i) }, now - 30_000);
    }
    web = await WebAdminUnderTest.start(db);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await db?.close();
    dir.remove();
  });

  const rowIds = (session: BrowserSession) => session.page.locator('[data-testid="device-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device-id')));
  const range = (session: BrowserSession) => session.page.getByTestId('fleet-range').textContent();
  /** Waits until the range reads `text` (the table is replaced with each answer). */
  const rangeIs = (session: BrowserSession, text: string) => session.page.locator('[data-testid="fleet-range"]', { hasText: text }).waitFor({ timeout: 15_000 });

  it('pages through the fleet, searches it and keeps the view in the address across a reload', async () => {
    const session = await BrowserSession.open(browser, web.base);
    try {
      await session.login('alice', 'alice-pw');
      await rangeIs(session, `1–50 of ${DEVICES}`);
      expect(await rowIds(session)).toEqual(Array.from({ length: 50 }, (_, i) => id(i)));
      expect(await session.page.getByTestId('fleet-summary').textContent()).toBe(`${DEVICES} devices, ${ONLINE.length} online`);
      expect(await session.page.getByTestId('fleet-previous').isDisabled()).toBe(true);

      await session.page.getByTestId('fleet-next').click();
      await rangeIs(session, `51–${DEVICES} of ${DEVICES}`);
      expect(await rowIds(session)).toEqual(Array.from({ length: DEVICES - 50 }, (_, i) => id(50 + i)));
      expect(await session.page.getByTestId('fleet-next').isDisabled()).toBe(true);
      expect(new URL(session.page.url()).searchParams.get('offset')).toBe('50');

      await session.page.getByTestId('fleet-search').fill('DEV-4');
      await rangeIs(session, '1–10 of 10');
      expect(await rowIds(session)).toEqual(Array.from({ length: 10 }, (_, i) => id(40 + i)));
      expect(await session.page.getByTestId('fleet-matching').textContent()).toBe(' · 10 matches');
      expect(new URL(session.page.url()).searchParams.get('q')).toBe('DEV-4');

      await session.page.getByTestId('fleet-status').selectOption('online');
      await rangeIs(session, '1–2 of 2');
      expect(await rowIds(session)).toEqual([id(42), id(49)]);

      await session.page.reload();
      await rangeIs(session, '1–2 of 2');
      expect(await session.page.getByTestId('fleet-search').inputValue()).toBe('DEV-4');
      expect(await session.page.getByTestId('fleet-status').inputValue()).toBe('online');

      await session.page.getByTestId('fleet-search').fill('no such device');
      await session.page.getByTestId('fleet-no-match').waitFor({ timeout: 15_000 });
      expect(await range(session)).toBe('0 of 0');
      expect(session.pageErrors).toEqual([]);
      expect(session.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
      expect(await session.page.getByTestId('error-message').count()).toBe(0);
    } finally {
      await session.close();
    }
  });

  it('sorts by a column title, the other way round on a second click', async () => {
    const session = await BrowserSession.open(browser, web.base);
    try {
      await session.login('alice', 'alice-pw');
      await rangeIs(session, `1–50 of ${DEVICES}`);
      await session.page.getByTestId('sort-readings').click();
      await session.page.locator('th[aria-sort="descending"] [data-testid="sort-readings"]').waitFor({ timeout: 15_000 });
      await session.page.locator(`[data-testid="device-row"][data-device-id="${id(33)}"]:first-child`).waitFor({ timeout: 15_000 });
      expect(await session.page.getByTestId('fleet-sort').inputValue()).toBe('readings');
      expect(new URL(session.page.url()).search).toBe('?sort=readings&order=desc');
      await session.page.getByTestId('sort-readings').click();
      await session.page.locator('th[aria-sort="ascending"] [data-testid="sort-readings"]').waitFor({ timeout: 15_000 });
      // One reading each, ties by id: dev-00, dev-03, dev-06, …
      await session.page.locator(`[data-testid="device-row"][data-device-id="${id(0)}"]:first-child`).waitFor({ timeout: 15_000 });
      expect((await rowIds(session)).slice(0, 3)).toEqual([id(0), id(3), id(6)]);
      expect(session.pageErrors).toEqual([]);
      expect(session.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('sorts from the toolbar on a phone, where the table has no column titles', async () => {
    const session = await BrowserSession.open(browser, web.base, PHONE);
    try {
      await session.login('alice', 'alice-pw');
      await rangeIs(session, `1–50 of ${DEVICES}`);
      await session.page.getByTestId('fleet-sort').selectOption('id');
      await session.page.getByTestId('fleet-order').click();
      await session.page.locator(`[data-testid="device-row"][data-device-id="${id(DEVICES - 1)}"]:first-child`).waitFor({ timeout: 15_000 });
      expect(new URL(session.page.url()).searchParams.get('order')).toBe('desc');
      expect(await session.page.getByTestId('fleet-order').textContent()).toBe('↓ descending');
      expect(session.pageErrors).toEqual([]);
    } finally {
      await session.close();
    }
  });
  it('pages the integrity report twenty devices at a time and searches it', async () => {
    const session = await BrowserSession.open(browser, web.base);
    try {
      await session.login('alice', 'alice-pw');
      await session.page.goto('/integrity');
      const devices = () => session.page.locator('[data-testid="integrity-device"]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-device-id')));
      await session.page.locator('[data-testid="integrity-range"]', { hasText: `1–20 of ${DEVICES} devices` }).waitFor({ timeout: 15_000 });
      expect(await devices()).toEqual(Array.from({ length: 20 }, (_, i) => id(i)));
      await session.page.getByTestId('integrity-next').click();
      await session.page.locator('[data-testid="integrity-range"]', { hasText: `21–40 of ${DEVICES} devices` }).waitFor({ timeout: 15_000 });
      expect(await devices()).toEqual(Array.from({ length: 20 }, (_, i) => id(20 + i)));
      await session.page.getByTestId('integrity-search').fill('dev-3');
      // dev-39 is on both pages: the search's answer is there once dev-20 is gone.
      await session.page.locator(`[data-testid="integrity-device"][data-device-id="${id(20)}"]`).waitFor({ state: 'detached', timeout: 15_000 });
      expect(await devices()).toEqual(Array.from({ length: 10 }, (_, i) => id(30 + i)));
      // Ten fit on one page: no pager.
      expect(await session.page.getByTestId('integrity-range').count()).toBe(0);
      expect(session.pageErrors).toEqual([]);
    } finally {
      await session.close();
    }
  });
});
