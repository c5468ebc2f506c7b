import type { Request, Response } from 'express';
import type { LiveEvent, LiveUpdates } from './live-updates.ts';
import { principalOf } from './security.ts';
import type { StreamSlots } from './stream-slots.ts';

export interface EventStreamOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  heartbeatMs?: number;
}

/**
 * GET /api/events: Server-Sent Events (HTML Living Standard §9.2) carrying {@link LiveEvent}s.
 * Event names are the event types, data is one JSON line. `retry` tells EventSource to
 * reconnect after 3 s; the page re-reads what it shows after a reconnect, so no ids are kept.
 * Each stream holds a slot (StreamSlots) until its connection closes.
 */
export function eventStream(live: LiveUpdates, slots: StreamSlots, options: EventStreamOptions = {}) {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return (_req: Request, res: Response): void => {
    const principal = principalOf(res);
    const release = slots.acquire({
      userId: principal.user.id,
      sessionKey: principal.session === undefined ? `token:${principal.token.id}` : `session:${principal.session.id}`,
      admin: principal.role === 'admin',
    });
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
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      release();
    });
  };
}
