import { accessSync, constants, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Database, NewReading } from '../../src/db/index.ts';

/** Debian's Chromium (`apt-get install chromium`), never a downloaded browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go: `reports/` is git-ignored and CI keeps it. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../reports/screenshots/', import.meta.url));

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Whether the Chromium binary exists and is executable. */
export function chromiumAvailable(): boolean {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * One browser context (its own cookies) on the web admin, recording what a test must be able to
 * fail on: dialogs that opened (an injected `alert`), console errors (CSP violations among them)
 * and uncaught page errors.
 */
export class BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly baseUrl: string;
  readonly dialogs: string[] = [];
  readonly consoleErrors: string[] = [];
  readonly pageErrors: string[] = [];
  /** Whether `confirm()` dialogs are accepted; other dialogs are always dismissed. */
  acceptConfirm = false;
  /** Documents loaded in the main frame, so a test can tell a live update from a reload. */
  navigations = 0;

  private constructor(context: BrowserContext, page: Page, baseUrl: string) {
    this.context = context;
    this.page = page;
    this.baseUrl = baseUrl;
    page.on('dialog', (dialog) => {
      this.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void (dialog.type() === 'confirm' && this.acceptConfirm ? dialog.accept() : dialog.dismiss());
    });
    page.on('console', (message) => {
      if (message.type() === 'error') this.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => this.pageErrors.push(error.message));
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) this.navigations += 1;
    });
  }

  static async open(browser: Browser, baseUrl: string, viewport: { width: number; height: number } = DESKTOP): Promise<BrowserSession> {
    const context = await browser.newContext({ viewport, baseURL: baseUrl, deviceScaleFactor: 1, ...(viewport.width < 500 ? { isMobile: true, hasTouch: true } : {}) });
    return new BrowserSession(context, await context.newPage(), baseUrl);
  }

  /** Logs in through the login form and waits for the fleet page. */
  async login(username: string, password: string): Promise<void> {
    await this.page.goto('/login');
    await this.page.getByTestId('login-username').fill(username);
    await this.page.getByTestId('login-password').fill(password);
    await this.page.getByTestId('login-submit').click();
    await this.page.waitForURL((url) => url.pathname !== '/login');
  }

  /** The session's CSRF token, read the way the page does. */
  async csrfToken(): Promise<string> {
    const response = await this.page.request.get('/api/session');
    return ((await response.json()) as { csrfToken: string }).csrfToken;
  }

  /** A full-page screenshot as reports/screenshots/<name>.png; @returns its path. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const path = `${SCREENSHOT_DIR}${name}.png`;
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Readings every minute of one boot, following a daily curve with a little deterministic noise. */
function bootReadings(bootId: string, from: number, to: number, skipSeqs: ReadonlySet<number>): NewReading[] {
  const readings: NewReading[] = [];
  let noise = 12345;
  const jitter = () => {
    noise = (noise * 1103515245 + 12345) % 2147483648;
    return noise / 2147483648 - 0.5;
  };
  for (let at = from, seq = 1; at <= to; at += MINUTE, seq++) {
    const day = Math.sin((2 * Math.PI * at) / (24 * HOUR));
    const values = { temperature_celsius: Number((21 + 4 * day + jitter()).toFixed(2)), humidity_percent: Number((48 - 9 * day + 2 * jitter()).toFixed(2)) };
    if (!skipSeqs.has(seq)) readings.push({ bootId, seq, streamId: `${at}-0`, measuredAt: at, values });
  }
  return readings;
}

/**
 * A device with a day and a half of history the live tests cannot wait for: two boots (the first
 * stopped cleanly, with ten readings lost), a desired configuration it reported only in part and
 * with an error, and one rejected message. It makes the screenshots show bands, gaps and drift.
 */
export async function seedArchiveDevice(db: Database, deviceId: string, now: number): Promise<void> {
  const firstBoot = bootReadings('a1a1a1a1a1a1a1a1', now - 36 * HOUR, now - 20 * HOUR, new Set([300, 301, 302, 303, 304, 305, 306, 307, 308, 309]));
  const secondBoot = bootReadings('b2b2b2b2b2b2b2b2', now - 18 * HOUR, now - 10 * MINUTE, new Set());
  const lastOfFirst = 16 * 60 + 1;
  for (let i = 0; i < firstBoot.length; i += 500) {
    const last = i + 500 >= firstBoot.length;
    await db.readings.storeReadings(deviceId, firstBoot.slice(i, i + 500), {
      protocol: 'v1',
      receivedAt: now - 20 * HOUR,
      ...(last ? { shutdowns: [{ bootId: 'a1a1a1a1a1a1a1a1', seq: lastOfFirst, at: now - 20 * HOUR }] } : {}),
    });
  }
  for (let i = 0; i < secondBoot.length; i += 500) await db.readings.storeReadings(deviceId, secondBoot.slice(i, i + 500), { protocol: 'v1', receivedAt: now - 10 * MINUTE });
  await db.configs.setDesired(deviceId, { 'measurement:interval': '90000', 'mqtt_sender:interval': '5' });
  await db.configs.setReported(deviceId, 1, { 'measurement:interval': '30', 'mqtt_sender:interval': '5' }, [
    { key: 'measurement:interval', code: 'invalid_value', message: 'measurement:interval must be a number of seconds from 0 to 86400 (got "90000")' },
  ]);
  await db.rejections.recordRejection({
    topic: `iot/${deviceId}/readings`,
    deviceId,
    reason: 'not_json',
    detail: 'Unexpected token < in JSON at position 0',
    payload: Buffer.from('<html>oops</html>'),
  });
}
