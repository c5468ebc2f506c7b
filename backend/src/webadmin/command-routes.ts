import type { Logger } from '@iot/common/log';
import { z } from '@iot/common/config';
import type { CommandName } from '@iot/common/protocol';
import { Router } from 'express';
import type { DeviceControl } from '../control/device-control.ts';
import type { Database } from '../db/index.ts';
import type { CommandControl } from './api-routes.ts';
import { HttpError } from './http-error.ts';
import { deviceFrom } from './overview-routes.ts';
import { integer, validate } from './request-validation.ts';
import { principalOf, requireAdmin } from './security.ts';

/** What broadcasting needs of DeviceControl. */
export type BroadcastControl = Pick<DeviceControl, 'sendBroadcast'>;

const broadcastBody = z.strictObject({
  command: z.string().min(1).max(50),
  key: z.string().max(100).optional(),
  value: z.union([z.string().max(1000), z.number()]).optional(),
  seconds: z.number().optional(),
  ttl_seconds: z.number().int().min(1).max(86_400).optional(),
  /** Required for reboot: the whole fleet reboots. */
  confirm: z.boolean().optional(),
});
const broadcastParams = z.object({ id: z.string().regex(/^[0-9a-f-]{1,64}$/, { message: 'must be a broadcast id' }) });

/** A DeviceControl can broadcast; a fake for other tests (CommandControl) may not. */
function canBroadcast(control: CommandControl | undefined): control is CommandControl & BroadcastControl {
  return control !== undefined && typeof (control as Partial<BroadcastControl>).sendBroadcast === 'function';
}

/**
 * Broadcast commands under /api (docs/original-devices.md §3): POST /broadcasts (admins; CSRF as
 * every POST), GET /broadcasts and GET /broadcasts/:id with every device's answer, and
 * GET /devices/:id/broadcasts, the broadcasts one device answered.
 */
export function commandRoutes(options: { db: Database; control: CommandControl | undefined; logger: Logger }): Router {
  const { db, control, logger } = options;
  const router = Router();

  router.get('/broadcasts', async (req, res) => {
    const query = validate(z.strictObject({ limit: integer(1, 1000).optional() }), req.query);
    res.json({ broadcasts: await db.commands.broadcasts.list(query.limit ?? 50) });
  });

  router.get('/broadcasts/:id', async (req, res) => {
    const { id } = validate(broadcastParams, req.params);
    const detail = await db.commands.broadcasts.detail(id);
    if (detail === undefined) throw new HttpError(404, 'unknown_broadcast', `id: no broadcast ${id}`);
    res.json(detail);
  });

  router.get('/devices/:id/broadcasts', async (req, res) => {
    const query = validate(z.strictObject({ limit: integer(1, 1000).optional() }), req.query);
    const device = await deviceFrom(db, req);
    res.json({ broadcasts: await db.commands.broadcasts.answeredBy(device.id, query.limit ?? 50) });
  });

  router.post('/broadcasts', requireAdmin, async (req, res) => {
    if (!canBroadcast(control)) throw new HttpError(503, 'commands_unavailable', 'commands unavailable: the web admin has no broker connection');
    const { ttl_seconds: ttlSeconds, confirm, ...request } = validate(broadcastBody, req.body ?? {});
    const by = principalOf(res).user.username;
    const id = await control.sendBroadcast({ ...request, command: request.command.toLowerCase() as CommandName }, { confirmed: confirm === true, createdBy: by, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });
    logger.info({ event: 'broadcast_requested', id, command: request.command, by }, 'broadcast sent from the web admin');
    res.status(202).json({ id });
  });

  return router;
}
