import { z } from '@iot/common/config';
import type { SensorValue } from '@iot/common/protocol';
import type { DevicePresence } from '../db/cadence.ts';
import { type FleetRow, INTERVAL_SAMPLE, presenceOf } from '../db/device-store.ts';
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
  row: FleetRow;
  presence: DevicePresence;
  drift: Drift[];
}

/** Sort ranks of presence: the ones to look at first. */
const STATE_RANK: Record<DevicePresence['state'], number> = { online: 0, stale: 1, offline: 2, unknown: 3 };
const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
const byId = (a: Candidate, b: Candidate): number => (a.row.device.id < b.row.device.id ? -1 : a.row.device.id > b.row.device.id ? 1 : 0);
const KEYS: Record<FleetSort, (a: Candidate, b: Candidate) => number> = {
  name: (a, b) => collator.compare(a.row.device.name ?? a.row.device.id, b.row.device.name ?? b.row.device.id),
  id: byId,
  'last-seen': (a, b) => a.row.device.lastSeenAt - b.row.device.lastSeenAt,
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
 * device's presence depends on the spacing of its newest readings), so one statement reads the
 * narrow rows of all devices with their configuration twin (DeviceStore.fleet), and the page is
 * cut here; only the page's devices get their newest reading read (one statement per 100).
 *
 * An original device's measuring interval costs a read of its newest readings, so it is kept per
 * device with the readings counter it was inferred at and inferred again once
 * {@link INTERVAL_SAMPLE} more readings were stored (the whole sample changed), or on any new
 * reading while it had fewer. Devices on the page shown are always inferred afresh when any
 * reading arrived, so what a row shows is exact; filters and sorts may use an interval up to
 * 20 readings old.
 */
export class FleetOverview {
  private readonly db: Database;
  private readonly intervals = new Map<string, CachedInterval>();

  constructor(db: Database) {
    this.db = db;
  }

  async page(query: FleetQuery, now: number): Promise<FleetPage> {
    const rows = await this.db.devices.fleet();
    await this.inferIntervals(rows, (cached, row) => cached === undefined || row.readingsStored - cached.stamp >= INTERVAL_SAMPLE || (cached.stamp < INTERVAL_SAMPLE && cached.stamp !== row.readingsStored));
    const all = rows.map((row) => this.candidate(row, now));
    const search = query.q?.trim().toLowerCase() ?? '';
    const matching = all.filter(
      (c) =>
        (search === '' || c.row.device.id.toLowerCase().includes(search) || (c.row.device.name?.toLowerCase().includes(search) ?? false)) &&
        (query.status === undefined || c.presence.state === query.status) &&
        (query.drift === undefined || (query.drift === 'drifting') === c.drift.length > 0),
    );
    const key = KEYS[query.sort ?? 'name'];
    const sign = query.order === 'desc' ? -1 : 1;
    matching.sort((a, b) => sign * key(a, b) || byId(a, b));

    const offset = query.offset ?? 0;
    const limit = query.limit ?? DEFAULT_FLEET_PAGE;
    const shown = matching.slice(offset, offset + limit);
    await this.inferIntervals(
      shown.map((c) => c.row),
      (cached, row) => cached === undefined || cached.stamp !== row.readingsStored,
    );
    const latest = await this.db.devices.latestReadings(shown.map((c) => c.row.device.id));
    const devices = shown.map(({ row }): FleetEntry => {
      const { presence, drift } = this.candidate(row, now);
      return {
        device: row.device,
        presence,
        readings: row.readingsStored,
        latest: latest.get(row.device.id) ?? null,
        desiredConfig: row.desired ?? null,
        reportedConfig: row.reported ?? null,
        drift,
      };
    });
    return {
      devices,
      total: matching.length,
      offset,
      limit,
      fleet: { devices: all.length, online: all.filter((c) => c.presence.state === 'online').length, drifting: all.filter((c) => c.drift.length > 0).length },
    };
  }

  private candidate(row: FleetRow, now: number): Candidate {
    const presence = presenceOf(row.device, this.intervals.get(row.device.id)?.intervalMs ?? null, now);
    return { row, presence, drift: configDrift(row.desired, row.reported) };
  }

  /** Infers the intervals of the original devices among `rows` for which `stale` holds. */
  private async inferIntervals(rows: readonly FleetRow[], stale: (cached: CachedInterval | undefined, row: FleetRow) => boolean): Promise<void> {
    const due = rows.filter((row) => row.device.protocol === 'original' && stale(this.intervals.get(row.device.id), row));
    if (due.length === 0) return;
    const inferred = await this.db.devices.intervals(due.map((row) => row.device.id));
    for (const row of due) this.intervals.set(row.device.id, { stamp: row.readingsStored, intervalMs: inferred.get(row.device.id) ?? null });
  }
}
