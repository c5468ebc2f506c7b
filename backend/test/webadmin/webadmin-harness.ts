import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '@iot/common/clock';
import { silentLogger } from '@iot/common/log';
import type { CommandControl } from '../../src/webadmin/api-routes.ts';
import { createWebAdmin, type WebAdminOptions } from '../../src/webadmin/app.ts';
import { buildClientAssets, type ClientAssets } from '../../src/webadmin/client-assets.ts';
import type { Database } from '../../src/db/index.ts';
import type { LiveUpdates } from '../../src/webadmin/live-updates.ts';
import type { StreamSlots } from '../../src/webadmin/stream-slots.ts';

/** Built once per test file: bundling the browser code takes a moment. */
let assets: Promise<ClientAssets> | undefined;

/** The web admin app listening on a free local port, with fetch helpers. */
export class WebAdminUnderTest {
  readonly base: string;
  /** Not started: tests run its rounds themselves. */
  readonly live: LiveUpdates;
  /** The live streams' slots, to see how many are open. */
  readonly streams: StreamSlots;
  private readonly server: Server;

  private constructor(server: Server, live: LiveUpdates, streams: StreamSlots) {
    this.server = server;
    this.live = live;
    this.streams = streams;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(db: Database, control?: CommandControl, options: Partial<WebAdminOptions> = {}): Promise<WebAdminUnderTest> {
    assets ??= buildClientAssets();
    const { app, live, streams } = createWebAdmin({ db, control, clock: systemClock, logger: silentLogger(), assets: await assets, secureCookies: false, ...options });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return new WebAdminUnderTest(server, live, streams);
  }

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.base}${path}`, init);
  }

  /** Logs in; @returns the cookie header value and the CSRF token. */
  async login(username: string, password: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const response = await this.fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`);
    const setCookie = response.headers.get('set-cookie') ?? '';
    const body = (await response.json()) as { csrfToken: string };
    return { cookie: setCookie.split(';')[0] ?? '', csrf: body.csrfToken, setCookie };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
