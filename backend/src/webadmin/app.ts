import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { ControlError } from '../control/device-control.ts';
import type { Database } from '../db/index.ts';
import { apiRoutes, type CommandControl } from './api-routes.ts';
import { commandRoutes } from './command-routes.ts';
import type { ClientAssets } from './client-assets.ts';
import { errorBody, HttpError } from './http-error.ts';
import { WebAdminMetrics } from './metrics.ts';
import { eventStream } from './event-stream.ts';
import { LiveUpdates } from './live-updates.ts';
import { OPENAPI_DOCUMENT } from './openapi.ts';
import { overviewRoutes } from './overview-routes.ts';
import { pageRoutes } from './pages.ts';
import { LoginLimiter } from './login-limiter.ts';
import { loginRoute } from './login-route.ts';
import { authenticate, principalOf, securityHeaders, sessionCookie } from './security.ts';
import { SessionStore } from './sessions.ts';
import { DEFAULT_STREAM_LIMITS, type StreamLimits, StreamSlots } from './stream-slots.ts';
import { tokenRoutes } from './token-routes.ts';

export interface WebAdminOptions {
  db: Database;
  /** Sends commands and desired configurations; without it those endpoints answer 503. */
  control?: CommandControl | undefined;
  clock: Clock;
  logger: Logger;
  /** The browser code and styles (buildClientAssets), served under /assets. */
  assets: ClientAssets;
  /** Mark the session cookie Secure (set behind TLS). */
  secureCookies: boolean;
  /** Session lifetime (default 8 h). */
  sessionTtlMs?: number;
  /** Failed logins per address and username before 429 (default 5 per 15 min). */
  loginLimit?: { maxFailures: number; windowMs: number };
  /** How often live updates look at the database (default 1 s). */
  livePeriodMs?: number;
  /** Live stream slots (default {@link DEFAULT_STREAM_LIMITS}). */
  streamLimits?: StreamLimits;
}

export interface WebAdmin {
  app: Express;
  sessions: SessionStore;
  /** Feeds /api/events from database changes; the owner starts and stops it. */
  live: LiveUpdates;
  /** The slots of /api/events streams. */
  streams: StreamSlots;
}

const EIGHT_HOURS = 8 * 3600 * 1000;

/**
 * `Server-Timing: app;dur=<ms>`: the time from the request's arrival to its response head, which
 * for a JSON answer includes the handler and the body's serialisation. Browsers' developer tools
 * and benchmarks read it apart from the network. The head is written once, so the header is set
 * just before (as the on-headers package does).
 */
function serverTiming(_req: Request, res: Response, next: NextFunction): void {
  const started = performance.now();
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: Parameters<Response['writeHead']>) {
    if (!this.headersSent) this.setHeader('Server-Timing', `app;dur=${(performance.now() - started).toFixed(2)}`);
    return writeHead.apply(this, args);
  } as Response['writeHead'];
  next();
}

/** The web admin as an Express app (no listen here: the caller or a test owns the server). */
export function createWebAdmin(options: WebAdminOptions): WebAdmin {
  const { db, clock, logger } = options;
  const ttl = options.sessionTtlMs ?? EIGHT_HOURS;
  const sessions = new SessionStore(clock, ttl);
  const limiter = new LoginLimiter(clock, options.loginLimit?.maxFailures ?? 5, options.loginLimit?.windowMs ?? 15 * 60 * 1000);
  const streams = new StreamSlots(options.streamLimits ?? DEFAULT_STREAM_LIMITS);
  const metrics = new WebAdminMetrics(db, clock);
  const live = new LiveUpdates({ db, clock, logger: logger.child({ component: 'live' }), ...(options.livePeriodMs === undefined ? {} : { periodMs: options.livePeriodMs }) });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.use(securityHeaders);
  app.use(serverTiming);
  app.use((req, res, next) => {
    res.on('finish', () => {
      // req.baseUrl is reset when an error leaves the /api router, so the mount point is
      // restored from the URL (that router is mounted at /api only).
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const mounted = typeof route === 'string' && req.originalUrl.startsWith('/api/') && !route.startsWith('/api/') ? `/api${route}` : route;
      metrics.countRequest(req.method, typeof mounted === 'string' ? mounted : 'unmatched', res.statusCode);
    });
    next();
  });
  app.use(express.json({ limit: '64kb' }));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));

  app.get('/health', async (_req, res) => {
    try {
      await db.ping();
      res.json({ status: 'ok', database: 'up' });
    } catch (error) {
      logger.warn({ event: 'health_database_down', err: error }, 'database unreachable');
      res.status(503).json({ status: 'degraded', database: 'down' });
    }
  });
  // Unauthenticated like most exporters: aggregate counts only; restrict it at the network if needed.
  app.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4').send(await metrics.render());
  });
  app.get('/api/openapi.json', (_req, res) => {
    res.json(OPENAPI_DOCUMENT);
  });

  app.post('/login', loginRoute({ db, sessions, limiter, logger, ttlMs: ttl, secureCookies: options.secureCookies }));

  const authenticated = async (req: Request, res: Response, next: NextFunction) => {
    res.locals.principal = await authenticate(req, db.users, sessions);
    next();
  };

  app.post('/logout', authenticated, (_req, res) => {
    const { session } = principalOf(res);
    if (session !== undefined) sessions.delete(session.id);
    res.setHeader('Set-Cookie', sessionCookie('', 0, options.secureCookies));
    res.status(204).end();
  });

  app.use('/api', authenticated);
  app.get('/api/session', (_req, res) => {
    const { user, role, session } = principalOf(res);
    res.json({ user: { username: user.username, role }, csrfToken: session?.csrfToken ?? null });
  });
  app.get('/api/events', eventStream(live, streams));
  app.use('/api', tokenRoutes({ db, logger }));
  app.use('/api', overviewRoutes({ db, clock, recentFleetIndex: () => live.recentFleetIndex() }));
  app.use('/api', apiRoutes({ db, control: options.control, logger, clock }));
  app.use('/api', commandRoutes({ db, control: options.control, logger }));
  app.use(pageRoutes({ assets: options.assets, sessions }));

  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      // A streamed export failed midway: the status is gone, so cut the response short.
      logger.error({ event: 'http_error', err: error, method: req.method, path: req.path }, 'error after the response started');
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      res.set(error.headers).status(error.status).json(errorBody(error.code, error.message));
      return;
    }
    if (error instanceof ControlError) {
      res.status(400).json(errorBody(error.code, error.message));
      return;
    }
    // body-parser's errors (bad JSON, too large) carry a 4xx status and a safe message.
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json(errorBody('bad_request', (error as Error).message));
      return;
    }
    logger.error({ event: 'http_error', err: error, method: req.method, path: req.path }, 'unexpected error');
    res.status(500).json(errorBody('internal', 'internal error'));
  });

  return { app, sessions, live, streams };
}
