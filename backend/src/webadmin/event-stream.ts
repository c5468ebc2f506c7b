import type { Request, Response } from 'express';
import { HttpError } from './http-error.ts';
import type { LiveEvent, LiveUpdates } from './live-updates.ts';

export interface EventStreamOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  heartbeatMs?: number;
  /** Open streams at most; more get 503 (default 200). */
  maxClients?: number;
}

/**
 * GET /api/events: Server-Sent Events (HTML Living Standard §9.2) carrying {@link LiveEvent}s.
 * Event names are the event types, data is one JSON line. `retry` tells EventSource to
 * reconnect after 3 s; the page re-reads what it shows after a reconnect, so no ids are kept.
 */
export function eventStream(live: LiveUpdates, options: EventStreamOptions = {}) {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxClients = options.maxClients ?? 200;
  return (req: Request, res: Response): void => {
    if (live.subscribers >= maxClients) throw new HttpError(503, 'too_many_streams', `at most ${maxClients} live streams; try again later`);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx buffers responses unless told otherwise, which would hold events back.
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n: connected\n\n');
    const unsubscribe = live.subscribe((event: LiveEvent) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    req.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  };
}
