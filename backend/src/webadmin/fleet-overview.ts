import { z } from '@iot/common/config';
import type { SensorValue } from '@iot/common/protocol';
import type { DevicePresence } from '../db/cadence.ts';
import { type FleetIndexRow, INTERVAL_SAMPLE, presenceOf } from '../db/device-store.ts';
import type { Database, DesiredConfigRecord, DeviceRecord, ReportedConfigRecord } from '../db/index.ts';
import { integer } from './request-validation.ts';

/** Devices per page of GET /api/fleet when the caller names no limit, and at most. */
export const DEFAULT_FLEET_PAGE = 50;
export const MAX_FLEET_PAGE = 200;
/** A search text longer than any id (64) or name (100) cannot match. */
export const MAX_SEARCH_LENGTH = 100;

export const PRESENCE_STATES = ['online', 'offline', 'stale', 'unknown'] as const;
export const FLEET_SORTS = ['name', 'id', 'last-seen', 'readings', 'status'] as const;
export type FleetSort = (typeof FLEET_SORTS)[number];

const enumOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { message: `must be one of ${values.join(', ')}` });

/** GET /api/fleet's query: search, filters, sort and page, each checked (400 naming the field). */
export const fleetQuery = z.strictObject({
  q: z.string().max(MAX_SEARCH_LENGTH, { message: `must be at most ${MAX_SEARCH_LENGTH} characters` }).optional(),
  status: enumOf(PRESENCE_STATES).optional(),
  drift: enumOf(['drifting', 'in-sync'] as const).optional(),
  sort: enumOf(FLEET_SORTS).optional(),
  order: enumOf(['asc', 'desc'] as const).optional(),
  limit: integer(1, MAX_FLEET_PAGE).optional(),
  offset: integer(0, 1_000_000_000).optional(),
});
export type FleetQuery = z.infer<typeof fleetQuery>;

/** A desired key whose reported value differs (reported null: the device does not report the key). */
export interface Drift {
  key: string;
  desired: string;
  reported: string | null;
}

/** A device's newest reading by measured time. */
export interface LatestReading {
  measuredAt: number;
  /** Text only from original-format readings (docs/protocol.md §9). */
  values: Record<string, SensorValue>;
}

/** One device on GET /api/fleet. */
export interface FleetEntry {
  device: DeviceRecord;
  /** From its status (v1), or inferred from its readings (original devices; docs/original-devices.md §4). */
  presence: DevicePresence;
  /** Readings stored, from the write-time counter. */
  readings: number;
  latest: LatestReading | null;
  desiredConfig: DesiredConfigRecord | null;
  reportedConfig: ReportedConfigRecord | null;
  drift: Drift[];
}

/** GET /api/fleet: one page of the devices that match, and figures of the whole fleet. */
export interface FleetPage {
  devices: FleetEntry[];
  /** Devices matching the search and filters (all pages). */
  total: number;
  offset: number;
  limit: number;
  /** The whole fleet, whatever the search and filters. */
  fleet: { devices: number; online: number; drifting: number };
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

interface Candidate {
  row: FleetIndexRow;
  presence: DevicePresence;
  drifting: boolean;
}

/** Sort ranks of presence: the ones to look at first. */
const STATE_RANK: Record<DevicePresence['state'], number> = { online: 0, stale: 1, offline: 2, unknown: 3 };
const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
const byId = (a: Candidate, b: Candidate): number => (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0);
const KEYS: Record<FleetSort, (a: Candidate, b: Candidate) => number> = {
  name: (a, b) => collator.compare(a.row.name ?? a.row.id, b.row.name ?? b.row.id),
  id: byId,
  'last-seen': (a, b) => a.row.lastSeenAt - b.row.lastSeenAt,
  readings: (a, b) => a.row.readingsStored - b.row.readingsStored,
  status: (a, b) => STATE_RANK[a.presence.state] - STATE_RANK[b.presence.state],
};

interface CachedInterval {
  /** readings_stored when it was inferred. */
  stamp: number;
  intervalMs: number | null;
}

/**
 * The fleet overview at fleet scale. Filtering and sorting need every device's presence and
 * drift, which SQL cannot give portably (drift compares two JSON objects key by key; an original
 * device's presence depends on the spacing of its newest readings). So the narrow columns of all
 * devices with the versions of their configuration twin (DeviceStore.fleetIndex) are filtered and
 * sorted here, and only the page's devices get their full rows and newest reading read (one
 * statement each per page). The index is the one the live updates read this second when they
 * run (so which devices match and their order may be a second old; the rows shown are read
 * afresh), else it is read for the request.
 *
 * What costs a read per device is kept between requests, with what says when it is stale:
 * - drift, with the versions and times of the desired and reported configuration it was
 *   computed from (so the configurations are read only for devices whose twin changed);
 * - an original device's measuring interval, with the readings counter it was inferred at,
 *   inferred again once {@link INTERVAL_SAMPLE} more readings were stored (the whole sample
 *   changed), or on any new reading while it had fewer. Devices on the page shown are inferred
 *   afresh on any new reading, so what a row shows is exact; filters and sorts may use an
 *   interval up to 20 readings old.
 */
export class FleetOverview {
  private readonly db: Database;
  private readonly intervals = new Map<string, CachedInterval>();
  private readonly drifts = new Map<string, { version: string; drifting: boolean }>();

  private readonly recentIndex: () => FleetIndexRow[] | undefined;

  /** `recentIndex`: an index read moments ago (the live updates' round), used instead of reading one when there is one. */
  constructor(db: Database, recentIndex: () => FleetIndexRow[] | undefined = () => undefined) {
    this.db = db;
    this.recentIndex = recentIndex;
  }

  async page(query: FleetQuery, now: number): Promise<FleetPage> {
    const rows = this.recentIndex() ?? (await this.db.devices.fleetIndex());
    await this.inferIntervals(rows, (cached, row) => cached === undefined || row.readingsStored - cached.stamp >= INTERVAL_SAMPLE || (cached.stamp < INTERVAL_SAMPLE && cached.stamp !== row.readingsStored));
    await this.updateDrifts(rows);
    const all = rows.map((row): Candidate => ({ row, presence: this.presence(row, now), drifting: this.drifts.get(row.id)?.drifting ?? false }));
    const search = query.q?.trim().toLowerCase() ?? '';
    const matching = all.filter(
      (c) =>
        (search === '' || c.row.id.toLowerCase().includes(search) || (c.row.name?.toLowerCase().includes(search) ?? false)) &&
        (query.status === undefined || c.presence.state === query.status) &&
        (query.drift === undefined || (query.drift === 'drifting') === c.drifting),
    );
    const key = KEYS[query.sort ?? 'name'];
    const sign = query.order === 'desc' ? -1 : 1;
    matching.sort((a, b) => sign * key(a, b) || byId(a, b));

    const offset = query.offset ?? 0;
    const limit = query.limit ?? DEFAULT_FLEET_PAGE;
    const shown = matching.slice(offset, offset + limit).map((c) => c.row);
    await this.inferIntervals(shown, (cached, row) => cached === undefined || cached.stamp !== row.readingsStored);
    const ids = shown.map((row) => row.id);
    const [full, latest] = await Promise.all([this.db.devices.fleetRows(ids), this.db.devices.latestReadings(ids)]);
    const devices = ids.flatMap((id): FleetEntry[] => {
      // Gone between the two reads is impossible (devices are never deleted), but skip rather than guess.
      const row = full.get(id);
      if (row === undefined) return [];
      return [
        {
          device: row.device,
          presence: this.presence(row.device, now),
          readings: row.readingsStored,
          latest: latest.get(id) ?? null,
          desiredConfig: row.desired ?? null,
          reportedConfig: row.reported ?? null,
          drift: configDrift(row.desired, row.reported),
        },
      ];
    });
    return {
      devices,
      total: matching.length,
      offset,
      limit,
      fleet: { devices: all.length, online: all.filter((c) => c.presence.state === 'online').length, drifting: all.filter((c) => c.drifting).length },
    };
  }

  private presence(device: { id: string; protocol: FleetIndexRow['protocol']; online: boolean | null; lastSeenAt: number }, now: number): DevicePresence {
    return presenceOf(device, this.intervals.get(device.id)?.intervalMs ?? null, now);
  }

  /** Computes the drift of the devices whose configuration twin changed since it was last computed. */
  private async updateDrifts(rows: readonly FleetIndexRow[]): Promise<void> {
    // Nothing desired is never drift; a reported configuration alone changes nothing.
    const due = rows.filter((row) => row.configVersion !== null && !row.configVersion.startsWith('|') && this.drifts.get(row.id)?.version !== row.configVersion);
    if (due.length > 0) {
      const full = await this.db.devices.fleetRows(due.map((row) => row.id));
      for (const row of due) {
        const found = full.get(row.id);
        if (found !== undefined) this.drifts.set(row.id, { version: row.configVersion as string, drifting: configDrift(found.desired, found.reported).length > 0 });
      }
    }
    for (const row of rows) if (row.configVersion === null || row.configVersion.startsWith('|')) this.drifts.delete(row.id);
  }

  /** Infers the intervals of the original devices among `rows` for which `stale` holds. */
  private async inferIntervals(rows: readonly FleetIndexRow[], stale: (cached: CachedInterval | undefined, row: FleetIndexRow) => boolean): Promise<void> {
    const due = rows.filter((row) => row.protocol === 'original' && stale(this.intervals.get(row.id), row));
    if (due.length === 0) return;
    const inferred = await this.db.devices.intervals(due.map((row) => row.id));
    for (const row of due) this.intervals.set(row.id, { stamp: row.readingsStored, intervalMs: inferred.get(row.id) ?? null });
  }
}
