import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { z } from '@iot/common/config';
import type { CommandName } from '@iot/common/protocol';
import { type Request, type Response, Router } from 'express';
import type { DeviceControl } from '../control/device-control.ts';
import type { Database, DesiredConfigRecord, DeviceRecord, ReadingRow, ReadingsCursor, ReportedConfigRecord } from '../db/index.ts';
import type { DevicePresence } from '../db/cadence.ts';
import type { LatestValues } from '../db/reading-store.ts';
import { csvLine } from './csv.ts';
import { HttpError } from './http-error.ts';
import { deviceFrom } from './overview-routes.ts';
import { integer, rangeQuery, validate } from './request-validation.ts';
import { requireAdmin } from './security.ts';
import { isoTime } from './time-text.ts';

/** What the web admin needs of DeviceControl: tests pass a fake with this shape. */
export type CommandControl = Pick<DeviceControl, 'sendCommand' | 'setDesiredConfig'>;

export const MAX_PAGE = 1000;
/** Gap ranges per boot at most on GET /api/devices/:id/gaps. */
export const MAX_GAP_RANGES = 10_000;
/** A CSV export stops here; a larger range is exported in several parts. */
export const MAX_CSV_ROWS = 1_000_000;

/** Position in a device's readings: `<measured_at>.<id>` of the last row of the previous page. */
const cursor = z
  .string()
  .regex(/^\d{1,16}\.\d{1,16}$/, { message: 'must be the `next` value of the previous page' })
  .transform((text): ReadingsCursor => {
    const [measuredAt, id] = text.split('.').map(Number) as [number, number];
    return { measuredAt, id };
  });
const readingsQuery = z.strictObject({
  ...rangeQuery,
  limit: integer(1, MAX_PAGE).optional(),
  after: cursor.optional(),
  order: z.enum(['asc', 'desc']).optional(),
});
const csvQuery = z.strictObject(rangeQuery);
const gapsQuery = z.strictObject({
  // Boot ids are 16 hex digits from our devices; stored ones are at most 16 characters.
  boot: z.string().regex(/^[0-9A-Za-z]{1,16}$/, { message: 'must be a boot id (1–16 letters and digits)' }).optional(),
  limit: integer(1, MAX_GAP_RANGES).optional(),
});
const pageQuery = z.strictObject({ limit: integer(1, MAX_PAGE).optional(), offset: integer(0, Number.MAX_SAFE_INTEGER).optional() });
const commandBody = z.strictObject({
  command: z.string().min(1).max(50),
  key: z.string().max(100).optional(),
  value: z.union([z.string().max(1000), z.number()]).optional(),
  seconds: z.number().optional(),
  min_id: z.string().max(64).optional(),
  max_id: z.string().max(64).optional(),
  count: z.number().int().optional(),
  ttl_seconds: z.number().int().min(1).max(86_400).optional(),
});
const desiredConfigBody = z.strictObject({ config: z.record(z.string().max(100), z.string().max(1000)) });

/** One reading on GET /api/devices/:id/readings. */
export type { ReadingRow } from '../db/index.ts';

/** GET /api/devices/:id/readings. */
export interface ReadingsPage {
  readings: ReadingRow[];
  /** The `after` of the next page, null on the last. */
  next: string | null;
}

/** GET /api/devices/:id. */
export interface DeviceDetail {
  device: DeviceRecord;
  desiredConfig: DesiredConfigRecord | null;
  reportedConfig: ReportedConfigRecord | null;
  /** Values are numbers, or text from original devices (docs/protocol.md §9). */
  latest: LatestValues | null;
  /** As on the fleet page: reported by a v1 device, inferred for an original one (docs/original-devices.md §4). */
  presence: DevicePresence;
}

const cursorOf = (row: ReadingRow): string => `${row.measuredAt}.${row.id}`;

/** The JSON REST API under /api (authentication happens before this router). */
export function apiRoutes(options: { db: Database; control: CommandControl | undefined; logger: Logger; clock: Clock }): Router {
  const { db, control, clock } = options;
  const router = Router();

  const device = (req: Request): Promise<DeviceRecord> => deviceFrom(db, req);
  const commands = (): CommandControl => {
    if (control === undefined) throw new HttpError(503, 'commands_unavailable', 'commands unavailable: the web admin has no broker connection');
    return control;
  };

  router.get('/devices', async (_req, res) => {
    res.json({ devices: await db.devices.listDevices() });
  });

  router.get('/devices/:id', async (req, res) => {
    const found = await device(req);
    // The newest reading as the fleet page reads it (DeviceStore.latestReadings: one index step, however many readings).
    const [desired, reported, latest, presence] = await Promise.all([
      db.configs.getDesired(found.id),
      db.configs.getReported(found.id),
      db.devices.latestReadings([found.id]),
      db.devices.presence(found, clock.now()),
    ]);
    const detail: DeviceDetail = { device: found, desiredConfig: desired ?? null, reportedConfig: reported ?? null, latest: latest.get(found.id) ?? null, presence };
    res.json(detail);
  });

  router.get('/devices/:id/readings', async (req, res) => {
    const query = validate(readingsQuery, req.query);
    const found = await device(req);
    const limit = query.limit ?? 100;
    const readings = await db.readings.page(found.id, query, query.after, limit, query.order);
    const last = readings.at(-1);
    const page: ReadingsPage = { readings, next: readings.length === limit && last !== undefined ? cursorOf(last) : null };
    res.json(page);
  });

  router.get('/devices/:id/readings.csv', async (req: Request, res: Response) => {
    const query = validate(csvQuery, req.query);
    const found = await device(req);
    // Columns need every field name of the range before the first line: one pass for the
    // names, one to write; pages keep memory flat on large ranges.
    const fields = new Set<string>();
    const eachPage = async (visit: (rows: ReadingRow[]) => void) => {
      let after: ReadingsCursor | undefined;
      for (let seen = 0; seen < MAX_CSV_ROWS; ) {
        const page = await db.readings.page(found.id, query, after, MAX_PAGE);
        const last = page.at(-1);
        if (last === undefined) return;
        visit(page);
        seen += page.length;
        after = last;
      }
    };
    await eachPage((rows) => {
      for (const row of rows) for (const name of Object.keys(row.values)) fields.add(name);
    });
    const names = [...fields].sort();
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${found.id.replace(/[^A-Za-z0-9_-]/g, '_')}-readings.csv"`);
    res.write(csvLine(['id', 'measured_at', 'received_at', 'boot_id', 'seq', ...names]));
    // Names are data: only a row's own value counts (`constructor` must not read Object's).
    const ownValue = (row: ReadingRow, name: string): unknown => (Object.hasOwn(row.values, name) ? row.values[name] : undefined);
    await eachPage((rows) => {
      res.write(rows.map((r) => csvLine([r.id, isoTime(r.measuredAt), isoTime(r.receivedAt), r.bootId, r.seq, ...names.map((n) => ownValue(r, n))])).join(''));
    });
    res.end();
  });

  // Which sequence numbers are missing: reads readings of the boots that miss some, so it is
  // asked for one device (optionally one boot), with the ranges per boot bounded.
  router.get('/devices/:id/gaps', async (req, res) => {
    const query = validate(gapsQuery, req.query);
    const found = await device(req);
    const boots = await db.integrity.gaps(found.id, { bootId: query.boot, limit: query.limit });
    if (query.boot !== undefined && boots.length === 0) throw new HttpError(404, 'unknown_boot', `device "${found.id}" has no boot "${query.boot}"`);
    res.json({ boots });
  });

  router.get('/rejections', async (req, res) => {
    const query = validate(pageQuery, req.query);
    const [rejections, total] = await Promise.all([db.rejections.listRejections(query.limit ?? 50, query.offset ?? 0), db.rejections.countRejections()]);
    res.json({ rejections, total });
  });

  router.get('/devices/:id/commands', async (req, res) => {
    const query = validate(z.strictObject({ limit: integer(1, MAX_PAGE).optional() }), req.query);
    const found = await device(req);
    res.json({ commands: await db.commands.list(found.id, query.limit ?? 50) });
  });

  router.post('/devices/:id/commands', requireAdmin, async (req, res) => {
    const sender = commands();
    const { ttl_seconds: ttlSeconds, ...request } = validate(commandBody, req.body ?? {});
    const found = await device(req);
    const id = await sender.sendCommand(found.id, { ...request, command: request.command as CommandName }, ttlSeconds === undefined ? {} : { ttlSeconds });
    res.status(202).json({ id });
  });

  router.put('/devices/:id/desired-config', requireAdmin, async (req, res) => {
    const sender = commands();
    const body = validate(desiredConfigBody, req.body ?? {});
    const found = await device(req);
    res.json({ version: await sender.setDesiredConfig(found.id, body.config) });
  });

  return router;
}
