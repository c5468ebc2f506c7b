import type { Clock } from '@iot/common/clock';
import { z } from '@iot/common/config';
import { type Request, Router } from 'express';
import type { FleetIndexRow } from '../db/device-store.ts';
import type { Database, DeviceRecord } from '../db/index.ts';
import { MAX_SCAN_READINGS, type TimeCursor } from '../db/integrity-store.ts';
import { FleetOverview, fleetQuery, MAX_SEARCH_LENGTH } from './fleet-overview.ts';
import { HttpError } from './http-error.ts';
import { integer, rangeQuery, validate } from './request-validation.ts';
import { requireAdmin } from './security.ts';

export const MAX_SERIES_POINTS = 2000;
const DAY_MS = 24 * 3600 * 1000;

const seriesQuery = z.strictObject({ ...rangeQuery, points: integer(2, MAX_SERIES_POINTS).optional() });
/** A spacing factor for suspected gaps: at least 1.1 intervals (closer is jitter), at most 1000. */
const gapFactor = z
  .string()
  .regex(/^\d{1,4}(\.\d{1,3})?$/, { message: 'must be a number of intervals, e.g. 3 or 2.5' })
  .transform(Number)
  .pipe(z.number().min(1.1, { message: 'must be at least 1.1' }).max(1000, { message: 'must be at most 1000' }));
/** `<measured_at>.<id>`: the `next` of the previous page. */
const timeCursor = z
  .string()
  .regex(/^-?\d{1,16}\.\d{1,16}$/, { message: 'must be the `next` value of the previous page' })
  .transform((text): TimeCursor => {
    const [measuredAt, id] = text.split('.').map(Number) as [number, number];
    return { measuredAt, id };
  });
/** Devices per page of GET /api/integrity when the caller names no limit, and at most. */
export const DEFAULT_INTEGRITY_PAGE = 50;
export const MAX_INTEGRITY_PAGE = 200;
const integrityQuery = z.strictObject({
  factor: gapFactor.optional(),
  q: z.string().max(MAX_SEARCH_LENGTH, { message: `must be at most ${MAX_SEARCH_LENGTH} characters` }).optional(),
  limit: integer(1, MAX_INTEGRITY_PAGE).optional(),
  offset: integer(0, 1_000_000_000).optional(),
});
const suspectedGapsQuery = z.strictObject({
  factor: gapFactor.optional(),
  before: timeCursor.optional(),
  readings: integer(2, MAX_SCAN_READINGS).optional(),
  limit: integer(1, 10_000).optional(),
});
const nameBody = z.strictObject({ name: z.string().trim().min(1, { message: 'must not be empty (send null to clear)' }).max(100).nullable() });

export type { Drift, FleetEntry, FleetPage, LatestReading } from './fleet-overview.ts';
export { configDrift } from './fleet-overview.ts';

/** One device on GET /api/integrity. */
export type { DeviceIntegrity } from '../db/index.ts';

/** The device named by the `:id` route parameter, or a 404. */
export async function deviceFrom(db: Database, req: Request): Promise<DeviceRecord> {
  const id = String(req.params.id);
  const found = await db.devices.getDevice(id);
  if (found === undefined) throw new HttpError(404, 'unknown_device', `no device "${id}"`);
  return found;
}

/** What the pages show at a glance: the fleet, a device's chart data, data integrity. */
export function overviewRoutes(options: { db: Database; clock: Clock; recentFleetIndex?: () => FleetIndexRow[] | undefined }): Router {
  const { db, clock } = options;
  const router = Router();
  const fleet = new FleetOverview(db, options.recentFleetIndex);

  // One page of the fleet, searched, filtered and sorted over all devices (FleetOverview).
  router.get('/fleet', async (req, res) => {
    const query = validate(fleetQuery, req.query);
    res.json(await fleet.page(query, clock.now()));
  });

  router.get('/devices/:id/series', async (req, res) => {
    const query = validate(seriesQuery, req.query);
    const to = query.to ?? clock.now();
    const from = query.from ?? Math.max(0, to - DAY_MS);
    if (from > to) throw new HttpError(400, 'invalid_request', 'from: must not be after to');
    const found = await deviceFrom(db, req);
    res.json(await db.rollups.series(found.id, from, to, query.points ?? 600));
  });

  router.put('/devices/:id/name', requireAdmin, async (req, res) => {
    const body = validate(nameBody, req.body ?? {});
    const found = await deviceFrom(db, req);
    await db.devices.setName(found.id, body.name);
    res.json({ device: await db.devices.getDevice(found.id) });
  });

  // Figures from counters kept at write time, the clock-skew flags, and suspected gaps among each
  // original device's newest readings (a bounded scan). Which numbers are missing is
  // GET /api/devices/:id/gaps, older suspected gaps GET /api/devices/:id/suspected-gaps.
  // One page of devices by id (`total` counts all that match), so the page's cost is bounded by its size, not the fleet's.
  router.get('/integrity', async (req, res) => {
    const query = validate(integrityQuery, req.query);
    const limit = query.limit ?? DEFAULT_INTEGRITY_PAGE;
    const offset = query.offset ?? 0;
    const { devices, total } = await db.integrity.reportPage({ factor: query.factor, search: query.q?.trim(), limit, offset });
    res.json({ devices, total, offset, limit });
  });

  // One bounded page of suspected gaps (docs/original-devices.md §4); `next` pages to older ones.
  router.get('/devices/:id/suspected-gaps', async (req, res) => {
    const query = validate(suspectedGapsQuery, req.query);
    const found = await deviceFrom(db, req);
    const scan = await db.integrity.suspectedGaps(found.id, { before: query.before, readings: query.readings, limit: query.limit, factor: query.factor });
    res.json(scan);
  });

  return router;
}
