import type { Database } from '../../src/db/index.ts';
import { BackendStack, SimulatedDevice } from '@iot/harness';
import { eventually, holdsFor } from '@iot/harness/testing';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserSession, CHROMIUM_PATH, chromiumAvailable, DESKTOP, launchChromium, PHONE, seedArchiveDevice } from './browser-harness.ts';

/**
 * The web admin in a real browser (Debian's Chromium through playwright-core) against the real
 * processes: broker, receiver, web admin, and simulated devices measuring every second.
 */
const hasChromium = chromiumAvailable();
if (!hasChromium) {
  process.stderr.write(`browser tests skipped: no Chromium at ${CHROMIUM_PATH}; install it with \`apt-get install chromium\` or set CHROMIUM_PATH\n`);
}

const LIVE = 'ui-live';
const HOSTILE = 'ui-hostile';
/** Not running: seeded history, for charts with bands, gaps and configuration drift. */
const ARCHIVE = 'ui-archive';
const HOSTILE_NAME = '<script>alert("xss")</script><img src=x onerror=alert(2)>';
const LONG = 120_000;


/** Reads a `data-count`-like attribute as a number. */
async function numberAttribute(locator: Locator, name: string): Promise<number> {
  return Number((await locator.getAttribute(name)) ?? Number.NaN);
}

/** The newest history row of a command (the API lists newest first). */
function historyRow(page: Page, command: string): Locator {
  return page.locator(`[data-testid="command-history"] [data-testid="command-row"][data-command="${command}"]`).first();
}

describe.skipIf(!hasChromium)('web admin in Chromium', () => {
  let stack: BackendStack;
  let db: Database;
  let browser: Browser;
  let url: string;
  let admin: { username: string; password: string };
  let session: BrowserSession;
  const devices: SimulatedDevice[] = [];
  const sessions: BrowserSession[] = [];

  const openSession = async (viewport: { width: number; height: number } = DESKTOP): Promise<BrowserSession> => {
    const opened = await BrowserSession.open(browser, url, viewport);
    sessions.push(opened);
    return opened;
  };

  beforeAll(async () => {
    stack = await new BackendStack({ deviceIds: [LIVE, HOSTILE], broker: 'aedes', database: 'sqlite' }).start();
    await stack.startReceiver();
    ({ url, admin } = await stack.startWebAdmin());
    for (const id of [LIVE, HOSTILE]) {
      const device = new SimulatedDevice({ id, mqtt: { port: stack.brokerPort, login: stack.login(id) }, intervalSeconds: 1, mode: 'all-in-one', sensors: 'bme280@0x76,sht31@0x44:outdoor', environment: 'daily:600' });
      devices.push(device);
      await device.start();
    }
    db = await stack.database();
    await seedArchiveDevice(db, ARCHIVE, Date.now());
    browser = await launchChromium();
    session = await openSession();
  }, LONG);

  afterAll(async () => {
    for (const opened of sessions) await opened.close().catch(() => {});
    await browser?.close();
    for (const device of devices) await device.dispose().catch(() => {});
    await stack?.dispose();
  }, LONG);

  it('refuses a wrong password with a message and logs in with the right one, landing on the fleet', async () => {
    const { page } = session;
    await page.goto('/');
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByTestId('login-username').fill(admin.username);
    await page.getByTestId('login-password').fill('not-the-password');
    await page.getByTestId('login-submit').click();
    await page.getByText('wrong username or password').waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await session.screenshot('login');

    await page.getByTestId('login-password').fill(admin.password);
    await page.getByTestId('login-submit').click();
    await page.waitForURL((u) => u.pathname === '/');
    expect(await page.locator('main#app').getAttribute('data-page')).toBe('fleet');
    expect(await page.getByTestId('user-name').textContent()).toBe(admin.username);
    expect(await page.getByTestId('user-role').textContent()).toBe('admin');
  }, LONG);

  it('shows new readings live: the fleet row and the device table update without a reload', async () => {
    const { page } = session;
    await page.goto('/');
    const row = page.locator(`[data-testid="device-row"][data-device-id="${LIVE}"]`);
    const latest = row.getByTestId('latest-values');
    await expect.poll(() => latest.textContent(), { timeout: 30_000 }).not.toContain('no readings');
    const loads = session.navigations;
    const before = await latest.textContent();
    await expect.poll(() => latest.textContent(), { timeout: 20_000 }).not.toBe(before);
    expect(await row.getByTestId('online-badge').textContent()).toBe('online');
    expect(session.navigations, 'the fleet page reloaded').toBe(loads);
    await page.getByTestId('live-indicator').filter({ hasText: 'live' }).waitFor();

    await row.getByTestId('device-link').click();
    await page.waitForURL((u) => u.pathname === `/devices/${LIVE}`);
    await page.getByTestId('readings-table').waitFor();
    // Newest first: a new reading appears at the top of the first page.
    const deviceLoads = session.navigations;
    const newest = page.getByTestId('reading-row').first();
    const newestBefore = await numberAttribute(newest, 'data-reading-id');
    await eventually(async () => (await numberAttribute(newest, 'data-reading-id')) > newestBefore, 20_000, 'a newer reading at the top of the table');
    expect(session.navigations, 'the device page reloaded').toBe(deviceLoads);
    // The charts exist per metric and have points.
    const chart = page.getByTestId('chart-temperature_celsius');
    await chart.waitFor();
    expect(await numberAttribute(chart, 'data-points')).toBeGreaterThan(0);
  }, LONG);

  it('stops measuring from the UI: the command is answered and the device stores no more readings', async () => {
    const { page } = session;
    await page.goto(`/devices/${encodeURIComponent(LIVE)}`);
    await page.getByTestId('command-history').waitFor();
    await page.getByTestId('cmd-stop').click();
    await historyRow(page, 'stop_measurement').and(page.locator('[data-state="answered"]')).waitFor({ timeout: 30_000 });
    // The uplink answers after it wrote measurement:enabled, and the sensor re-reads it at least
    // every interval (1 s): no reading may be *measured* later than that after the answer, whenever
    // it is recorded. A relation between timestamps, not a bound on speed.
    const answeredAt = Date.now();
    const live = devices[0]!;
    await holdsFor(() => live.history().every((r) => r.measuredAt <= answeredAt + 1000), 5000, 'no reading measured more than 1 s after the stop was answered');
    // Readings taken just before the stop land; after that the count stays put.
    await live.drained(30_000);
    const stopped = await db.readings.countReadings(LIVE);
    await holdsFor(async () => (await db.readings.countReadings(LIVE)) === stopped, 2000, 'no reading stored after the device drained');
    await page.getByTestId('measuring').filter({ hasText: /^off/ }).waitFor({ timeout: 20_000 });

    await page.getByTestId('cmd-start').click();
    await historyRow(page, 'start_measurement').and(page.locator('[data-state="answered"]')).waitFor({ timeout: 30_000 });
    await eventually(async () => (await db.readings.countReadings(LIVE)) > stopped + 2, 20_000, 'readings after starting again');
  }, LONG);

  it('reboots the device from the UI after a confirmation: answered, and a new boot appears', async () => {
    const { page } = session;
    await page.goto(`/devices/${encodeURIComponent(LIVE)}`);
    const bootsBefore = (await db.readings.gaps(LIVE)).map((b) => b.bootId);
    session.acceptConfirm = true;
    await page.getByTestId('cmd-reboot').click();
    await historyRow(page, 'reboot').and(page.locator('[data-state="answered"]')).waitFor({ timeout: 30_000 });
    session.acceptConfirm = false;
    expect(session.dialogs).toContain(`confirm: Reboot device ${LIVE}?`);

    await page.goto('/integrity');
    const card = page.locator(`[data-testid="integrity-device"][data-device-id="${LIVE}"]`);
    await eventually(
      async () => {
        await page.reload();
        await card.waitFor();
        const boots = await card.getByTestId('boot-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-boot-id')));
        return boots.some((id) => id !== null && !bootsBefore.includes(id));
      },
      40_000,
      'a new boot on the data integrity page',
    );
    // The boot before the reboot ended cleanly: its shutdown marker arrived.
    const previous = (await db.readings.gaps(LIVE)).find((b) => b.bootId === bootsBefore.at(-1));
    expect(previous?.shutdownSeq).not.toBeNull();
  }, LONG);

  it('saves a desired configuration from the editor, and the device reports it back in sync', async () => {
    const { page } = session;
    await page.goto(`/devices/${encodeURIComponent(LIVE)}`);
    const editor = page.getByTestId('desired-config');
    await editor.waitFor();
    await page.getByTestId('desired-config-add').click();
    const row = editor.getByTestId('desired-config-row').last();
    await row.locator('.config-key').fill('mqtt_sender:interval');
    await row.locator('.config-value').fill('1');
    await page.getByTestId('desired-config-save').click();
    await page.getByTestId('desired-config-status').filter({ hasText: /saved as version \d+/ }).waitFor();
    const comparison = page.getByTestId('config-comparison');
    await comparison.locator('tr[data-drift="false"]', { hasText: 'mqtt_sender:interval' }).waitFor({ timeout: 30_000 });
    expect(await db.configs.getReported(LIVE)).toMatchObject({ config: { 'mqtt_sender:interval': '1' } });
  }, LONG);

  it('exports the range as CSV through the page link with the session cookie', async () => {
    const { page } = session;
    await page.goto(`/devices/${encodeURIComponent(LIVE)}`);
    const href = await page.getByTestId('csv-export').getAttribute('href');
    expect(href).toMatch(new RegExp(`^/api/devices/${LIVE}/readings\\.csv\\?from=\\d+$`));
    const response = await page.request.get(href ?? '');
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toBe('text/csv; charset=utf-8');
    const lines = (await response.text()).trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/^"id","measured_at","received_at","boot_id","seq",.*"temperature_celsius"/);
    expect(lines.length).toBeGreaterThan(5);
    expect(lines[1]).toMatch(/^\d+,"\d{4}-\d\d-\d\dT/);
  }, LONG);

  it('refuses a state-changing request without the CSRF token, and accepts it with the token', async () => {
    const { page } = session;
    const path = `/api/devices/${LIVE}/commands`;
    const refused = await page.request.post(path, { data: { command: 'start_measurement' } });
    expect(refused.status()).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'csrf' } });
    const accepted = await page.request.post(path, { data: { command: 'start_measurement' }, headers: { 'x-csrf-token': await session.csrfToken() } });
    expect(accepted.status()).toBe(202);
  }, LONG);

  it('shows a device named with markup as plain text, running nothing', async () => {
    const { page } = session;
    await eventually(async () => (await db.devices.getDevice(HOSTILE)) !== undefined, 30_000, 'the second device to be known');
    const renamed = await page.request.put(`/api/devices/${HOSTILE}/name`, { data: { name: HOSTILE_NAME }, headers: { 'x-csrf-token': await session.csrfToken() } });
    expect(renamed.status()).toBe(200);
    const dialogsBefore = session.dialogs.length;
    for (const path of ['/', `/devices/${HOSTILE}`, '/integrity']) {
      await page.goto(path);
      await page.getByText(HOSTILE_NAME).first().waitFor();
      expect(await page.locator('main').textContent()).toContain(HOSTILE_NAME);
      const injected = { scripts: await page.locator('script', { hasText: 'xss' }).count(), images: await page.locator('img').count() };
      expect(injected, path).toEqual({ scripts: 0, images: 0 });
    }
    await holdsFor(() => session.dialogs.length === dialogsBefore, 500, 'no dialog opened by injected markup');
    expect(session.dialogs.slice(dialogsBefore)).toEqual([]);
  }, LONG);

  it('brings a viewer back to the page asked for after logging in, with the controls disabled; logging out ends the session', async () => {
    await db.users.create('viewer', 'viewer-password', 'viewer');
    const viewer = await openSession();
    const { page } = viewer;
    await page.goto(`/devices/${LIVE}`);
    expect(page.url()).toBe(`${url}/login?next=${encodeURIComponent(`/devices/${LIVE}`)}`);
    await page.getByTestId('login-username').fill('viewer');
    await page.getByTestId('login-password').fill('viewer-password');
    await page.getByTestId('login-submit').click();
    await page.waitForURL((u) => u.pathname === `/devices/${LIVE}`);
    await page.getByTestId('viewer-note').waitFor();
    for (const id of ['cmd-stop', 'cmd-start', 'cmd-reboot', 'cmd-interval', 'cmd-resend', 'desired-config-save', 'rename-save']) {
      expect(await page.getByTestId(id).isDisabled(), id).toBe(true);
    }
    expect(await page.getByTestId('user-role').textContent()).toBe('viewer');

    await page.getByTestId('logout').click();
    await page.waitForURL((u) => u.pathname === '/login');
    expect((await page.request.get('/api/session')).status()).toBe(401);
    await page.goto('/');
    expect(new URL(page.url()).pathname).toBe('/login');
  }, LONG);

  it('takes screenshots of every page on a desktop and a phone, with no CSP violation or script error', async () => {
    const phone = await openSession(PHONE);
    await phone.login(admin.username, admin.password);
    const shots: string[] = [];
    for (const [who, suffix] of [
      [session, 'desktop'],
      [phone, 'phone'],
    ] as const) {
      await who.page.goto('/');
      await who.page.getByTestId('device-row').nth(2).waitFor();
      shots.push(await who.screenshot(`fleet-${suffix}`));
      await who.page.goto(`/devices/${LIVE}`);
      await who.page.getByTestId('chart-temperature_celsius').waitFor();
      await who.page.locator('[data-testid="command-history"] table').waitFor();
      shots.push(await who.screenshot(`device-${suffix}`));
      // Nothing may stick out sideways on a phone: only table wrappers scroll.
      const overflow = Number(await who.page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
      expect(overflow, `${suffix} device page horizontal overflow`).toBeLessThanOrEqual(0);
    }
    await session.page.goto(`/devices/${ARCHIVE}`);
    const band = session.page.getByTestId('chart-temperature_celsius').locator('path.band');
    await band.first().waitFor();
    // The gap between the two boots splits the band.
    expect(await band.count()).toBe(2);
    await session.page.getByTestId('config-errors').waitFor();
    shots.push(await session.screenshot('device-archive-desktop'));
    await session.page.goto('/integrity');
    await session.page.locator(`[data-testid="integrity-device"][data-device-id="${ARCHIVE}"] [data-testid="integrity-missing"]`, { hasText: '10' }).waitFor();
    await session.page.getByTestId('rejection-row').first().waitFor();
    shots.push(await session.screenshot('integrity'));
    // The report carries counts only; the numbers missing come per boot on request.
    const archive = session.page.locator(`[data-testid="integrity-device"][data-device-id="${ARCHIVE}"]`);
    await archive.getByTestId('boot-missing-list').click();
    await archive.getByTestId('boot-missing-ranges').filter({ hasText: /^300–309$/ }).waitFor();
    expect(shots).toHaveLength(6);
    for (const opened of sessions) {
      expect(opened.pageErrors).toEqual([]);
      expect(opened.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
    }
  }, LONG);

  // Last: it restarts the web admin, which ends every session (they live in its memory).
  it('reconnects the live stream after a web admin restart, and an ended session leads to the login page', async () => {
    const { page } = session;
    await page.goto(`/devices/${LIVE}`);
    const indicator = page.getByTestId('live-indicator');
    await indicator.filter({ hasText: 'live' }).waitFor();
    const port = Number(new URL(url).port);
    await stack.webAdmins.at(-1)?.kill();
    await indicator.filter({ hasText: 'reconnecting' }).waitFor({ timeout: 15_000 });
    await stack.startWebAdmin({ port });
    // The stream comes back, finds the session gone, and the page asks for a login to return here.
    await page.waitForURL((u) => u.pathname === '/login', { timeout: 30_000 });
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/devices/${LIVE}`);
  }, LONG);
});
