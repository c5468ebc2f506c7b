import { type Request, type RequestHandler, type Response, Router } from 'express';
import type { ClientAsset, ClientAssets } from './client-assets.ts';
import { readCookie, SESSION_COOKIE } from './security.ts';
import type { Session, SessionStore } from './sessions.ts';

type PageName = 'login' | 'fleet' | 'device' | 'integrity' | 'tokens';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

interface ShellOptions {
  page: PageName;
  title: string;
  session?: Session | undefined;
  deviceId?: string | undefined;
}

function navLink(href: string, label: string, current: boolean): string {
  return `<a href="${href}"${current ? ' aria-current="page"' : ''}>${label}</a>`;
}

function header(options: ShellOptions): string {
  const user = options.session?.user;
  if (user === undefined) return '<header class="site-header"><div class="site-header-inner"><a class="brand" href="/">IoT admin</a></div></header>';
  return `<header class="site-header"><div class="site-header-inner">
<a class="brand" href="/">IoT admin</a>
<nav class="site-nav" aria-label="Main">${navLink('/', 'Fleet', options.page === 'fleet')}${navLink('/integrity', 'Data integrity', options.page === 'integrity')}${user.role === 'admin' ? navLink('/tokens', 'API tokens', options.page === 'tokens') : ''}</nav>
<div class="user-box"><span id="live-indicator" class="live" data-testid="live-indicator" data-state="connecting">connecting</span>
<span class="user" data-testid="user-name">${escapeHtml(user.username)}</span> <span class="user-role" data-testid="user-role">${escapeHtml(user.role)}</span>
<button type="button" id="logout" data-testid="logout">Log out</button></div>
</div></header>`;
}

/** The HTML every page starts as: header, alert area and an empty main the client renders into. */
export function pageShell(options: ShellOptions): string {
  const deviceAttribute = options.deviceId === undefined ? '' : ` data-device-id="${escapeHtml(options.deviceId)}"`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · IoT admin</title>
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
${header(options)}
<div id="alerts" class="alerts" role="alert" data-testid="error-area"></div>
<main id="app" data-page="${options.page}"${deviceAttribute}><noscript>This page needs JavaScript.</noscript></main>
</body>
</html>
`;
}

function sendPage(res: Response, html: string): void {
  // Pages name the user; never keep them in a shared cache or the back-forward history.
  res.setHeader('Cache-Control', 'no-store');
  res.type('html').send(html);
}

/** Whether an If-None-Match header lists `etag` (weak comparison, RFC 9110 §13.1.2). */
function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

function serveAsset(asset: ClientAsset): RequestHandler {
  return (req, res) => {
    res.setHeader('ETag', asset.etag);
    // Revalidate every time: the bundle changes with each deployment and the check is cheap.
    res.setHeader('Cache-Control', 'no-cache');
    if (matchesEtag(req.get('if-none-match'), asset.etag)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Type', asset.contentType);
    res.send(asset.body);
  };
}

/**
 * The browser UI: server-rendered page shells (login, fleet, device, data integrity, API tokens) and the
 * client bundle and stylesheet. Pages other than the login need a session, else 303 to /login
 * with the page as `next`.
 */
export function pageRoutes(options: { assets: ClientAssets; sessions: SessionStore }): Router {
  const { assets, sessions } = options;
  const router = Router();

  const sessionOf = (req: Request): Session | undefined => {
    const id = readCookie(req, SESSION_COOKIE);
    return id === undefined ? undefined : sessions.get(id);
  };
  const page =
    (name: PageName, title: (req: Request) => string, deviceId?: (req: Request) => string): RequestHandler =>
    (req, res) => {
      const session = sessionOf(req);
      if (session === undefined) {
        res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      sendPage(res, pageShell({ page: name, title: title(req), session, deviceId: deviceId?.(req) }));
    };

  router.get('/assets/app.js', serveAsset(assets.js));
  router.get('/assets/app.css', serveAsset(assets.css));
  router.get('/login', (_req, res) => sendPage(res, pageShell({ page: 'login', title: 'Log in' })));
  const deviceId = (req: Request) => String(req.params.id);
  router.get('/', page('fleet', () => 'Fleet'));
  router.get('/integrity', page('integrity', () => 'Data integrity'));
  // The page is for admins; for anyone else its API answers 403, which the page shows.
  router.get('/tokens', page('tokens', () => 'API tokens'));
  router.get('/devices/:id', page('device', (req) => `Device ${deviceId(req)}`, deviceId));
  return router;
}
