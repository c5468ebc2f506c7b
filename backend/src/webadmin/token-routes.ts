import type { Logger } from '@iot/common/log';
import { z } from '@iot/common/config';
import { Router } from 'express';
import type { Database } from '../db/index.ts';
import { HttpError } from './http-error.ts';
import { validate } from './request-validation.ts';
import { principalOf, requireAdmin } from './security.ts';

const tokenParams = z.object({ id: z.string().regex(/^[1-9]\d{0,15}$/, { message: 'must be a token id (a positive integer)' }).transform(Number) });

/** GET /api/tokens and POST /api/tokens/:id/revoke: every user's API tokens, for admins. */
export function tokenRoutes(options: { db: Database; logger: Logger }): Router {
  const { db, logger } = options;
  const router = Router();

  router.get('/tokens', requireAdmin, async (_req, res) => {
    res.json({ tokens: await db.users.listTokens() });
  });

  router.post('/tokens/:id/revoke', requireAdmin, async (req, res) => {
    const { id } = validate(tokenParams, req.params);
    const token = await db.users.revokeToken(id);
    if (token === undefined) throw new HttpError(404, 'unknown_token', `id: no API token ${id}`);
    logger.info({ event: 'token_revoked', tokenId: id, by: principalOf(res).user.username }, 'API token revoked');
    res.json({ token });
  });

  return router;
}
