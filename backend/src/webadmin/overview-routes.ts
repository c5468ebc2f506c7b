import type { Clock } from '@iot/common/clock';
import { z } from '@iot/common/config';
import { type Request, Router } from 'express';
import type { Database, DesiredConfigRecord, DeviceRecord, ReportedConfigRecord } from '../db/index.ts';
import { HttpError } from './http-error.ts';
import { integer, rangeQuery, validate } from './request-validation.ts';
import { requireAdmin } from './security.ts';

export const MAX_SERIES_POINTS = 2000;
const DAY_MS = 24 * 3600 * 1000;

const seriesQuery = z.strictObject({ ...rangeQuery, points: integer(2, MAX_SERIES_POINTS).optional() });
const nameBody = z.strictObject({ name: z.string().trim().min(1, { message: 'must not be empty (send null to clear)' }).max(100).nullable() });

/** A desired key whose reported value differs (reported null: the device does not report the key). */
export interface Drift {
  key: string;
  desired: string;
  reported: string | null;
}

/** A device's newest reading by measured time. */
export interface LatestReading {
  measuredAt: number;
  values: Record<string, number>;
}

/** One device on GET /api/fleet. */
export interface FleetEntry {
  device: DeviceRecord;
  latest: LatestReading | null;
  desiredConfig: DesiredConfigRecord | null;
  reportedConfig: ReportedConfigRecord | null;
  drift: Drift[];
}

/** One device on GET /api/integrity. */
export type { DeviceIntegrity } from '../db/index.ts';

/** The device named by the `:id` route parameter, or a 404. */
export async function deviceFrom(db: Database, req: Request): Promise<DeviceRecord> {
  const id = String(req.params.id);
  const found = await db.devices.getDevice(id);
  if (found === undefined) throw new HttpError(404, 'unknown_device', `no device "${id}"`);
  return found;
}

/** Keys where the device's reported configuration is not (yet) the desired one. */
export function configDrift(desired: DesiredConfigRecord | undefined, reported: ReportedConfigRecord | undefined): Drift[] {
  if (desired === undefined) return [];
  // Keys are data (a device reports what it likes): only own properties count.
  const reportedValue = (key: string): string | null => (reported !== undefined && Object.hasOwn(reported.config, key) ? (reported.config[key] ?? null) : null);
  return Object.entries(desired.config)
    .filter(([key, value]) => reportedValue(key) !== value)
    .map(([key, value]) => ({ key, desired: value, reported: reportedValue(key) }));
}

/** What the pages show at a glance: the fleet, a device's chart data, data integrity. */
export function overviewRoutes(options: { db: Database; clock: Clock }): Router {
  const { db, clock } = options;
  const router = Router();

  router.get('/fleet', async (_req, res) => {
    const devices = await db.devices.listDevices();
    const fleet = await Promise.all(
      devices.map(async (device) => {
        const [latest, desired, reported] = await Promise.all([db.readings.latestReading(device.id), db.configs.getDesired(device.id), db.configs.getReported(device.id)]);
        const entry: FleetEntry = { device, latest: latest ?? null, desiredConfig: desired ?? null, reportedConfig: reported ?? null, drift: configDrift(desired, reported) };
        return entry;
      }),
    );
    res.json({ devices: fleet });
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

  // Figures from counters kept at write time: the same cost however many readings there are.
  // Which numbers are missing is GET /api/devices/:id/gaps, for one device at a time.
  router.get('/integrity', async (_req, res) => {
    res.json({ devices: await db.integrity.report() });
  });

  return router;
}
