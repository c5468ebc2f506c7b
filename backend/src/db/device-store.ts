import { type DevicePresence, inferPresence, isUsableTime, medianInterval, statusPresence } from './cadence.ts';
import type { ConfigKeyError, DesiredConfigRecord, ReportedConfigRecord } from './config-store.ts';
import type { DeviceProtocol, LatestValues } from './reading-store.ts';
import { boolOrNull, INSERT_CHUNK_ROWS, jsonObject, jsonOrNull, num, numOrNull, type Row, type Sql, type SqlAccess, strOrNull } from './sql-access.ts';

export interface DeviceRecord {
  id: string;
  protocol: DeviceProtocol;
  deviceType: string | null;
  appId: string | null;
  appName: string | null;
  /** Backend time, ms. */
  firstSeenAt: number;
  /** Backend time of the last message of any kind, ms. */
  lastSeenAt: number;
  /** From the last status message; null before the first one. */
  online: boolean | null;
  /** The last status message as received (JSON), null before the first one. */
  status: unknown;
  statusAt: number | null;
  /** Display name set by an operator. */
  name: string | null;
  /** Readings received again after they were stored (re-sends the unique key absorbed). */
  duplicatesAbsorbed: number;
}

/** The newest readings whose spacing gives an original device's measuring interval. */
export const INTERVAL_SAMPLE = 21;

/**
 * Devices per statement of the per-device reads for many devices ({@link DeviceStore.latestReadings},
 * {@link DeviceStore.intervals}): each is a UNION ALL of one short index range per device, and
 * SQLite allows 500 terms in a compound SELECT.
 */
export const DEVICES_PER_STATEMENT = 100;

/** One device as the fleet overview filters and sorts it: its row, its counter and its configuration twin. */
export interface FleetRow {
  device: DeviceRecord;
  /** Readings stored, from the counter kept at write time (devices.readings_stored). */
  readingsStored: number;
  desired: DesiredConfigRecord | undefined;
  reported: ReportedConfigRecord | undefined;
}

/**
 * One device as the fleet overview filters and sorts it, without the wide columns (status and
 * configuration JSON): what is read for every device on every request.
 */
export interface FleetIndexRow {
  id: string;
  name: string | null;
  protocol: DeviceProtocol;
  online: boolean | null;
  lastSeenAt: number;
  /** When the current status message was received; it changes with every status, even one that leaves last_seen_at. */
  statusAt: number | null;
  readingsStored: number;
  duplicatesAbsorbed: number;
  /** Changes whenever the desired or the reported configuration does; null when neither exists. */
  configVersion: string | null;
}

const DEVICE_COLUMNS = 'id, protocol, device_type, app_id, app_name, first_seen_at, last_seen_at, online, status_json, status_at, name, duplicates_absorbed';
const FLEET_COLUMNS = `${DEVICE_COLUMNS
  .split(', ')
  .map((c) => `d.${c}`)
  .join(', ')}, d.readings_stored,
  dc.version AS desired_version, dc.config_json AS desired_json, dc.updated_at AS desired_at,
  rc.version AS reported_version, rc.config_json AS reported_json, rc.errors_json AS reported_errors, rc.reported_at AS reported_at`;

/** Devices as the backend has seen them: presence, the last status, operator-given names. */
export class DeviceStore {
  private readonly db: SqlAccess;

  constructor(db: SqlAccess) {
    this.db = db;
  }

  /**
   * Records a v1 status message received at `at` (backend time). A status older than the stored
   * one (retained messages can arrive out of order after a reconnect) does not replace it.
   * @returns whether this status is now the device's current one.
   */
  recordStatus(deviceId: string, status: { online: boolean } & Record<string, unknown>, at: number): Promise<boolean> {
    return this.db.transaction(async (sql) => {
      await this.insertIfMissing(sql, deviceId, 'v1', at);
      const { affected } = await sql.execute(
        `UPDATE devices SET online = ?, status_json = ?, status_at = ?, last_seen_at = CASE WHEN last_seen_at < ? THEN ? ELSE last_seen_at END
         WHERE id = ? AND (status_at IS NULL OR status_at <= ?)`,
        [status.online, JSON.stringify(status), at, at, at, deviceId, at],
      );
      return affected > 0;
    });
  }

  /** Notes that the device was heard from at `at` (backend time) speaking `protocol`. */
  touch(deviceId: string, protocol: DeviceProtocol, at: number): Promise<void> {
    return this.db.transaction(async (sql) => {
      await this.insertIfMissing(sql, deviceId, protocol, at);
      await sql.execute('UPDATE devices SET protocol = ?, last_seen_at = CASE WHEN last_seen_at < ? THEN ? ELSE last_seen_at END WHERE id = ?', [
        protocol,
        at,
        at,
        deviceId,
      ]);
    });
  }

  /** Sets (or clears, with null) the operator-given display name. @returns false for an unknown device. */
  setName(deviceId: string, name: string | null): Promise<boolean> {
    return this.db.transaction(async (sql) => (await sql.execute('UPDATE devices SET name = ? WHERE id = ?', [name, deviceId])).affected > 0);
  }

  /** All devices, ordered by id. */
  listDevices(): Promise<DeviceRecord[]> {
    return this.db.read(async (sql) => (await sql.rows(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY id`)).map(toDevice));
  }

  /**
   * Every device's narrow columns and the versions of its configuration twin: three sequential
   * scans joined here, on one connection. (As one statement, a LEFT JOIN on the primary keys, it
   * took 2–3 times as long on MariaDB at 5000 devices: two key lookups per device.)
   */
  fleetIndex(): Promise<FleetIndexRow[]> {
    return this.db.read(async (sql) => {
      const devices = await sql.rows('SELECT id, name, protocol, online, last_seen_at, status_at, readings_stored, duplicates_absorbed FROM devices');
      const desired = await sql.rows('SELECT device_id, version, updated_at FROM desired_configs');
      const reported = await sql.rows('SELECT device_id, version, reported_at FROM reported_configs');
      const versions = new Map<string, [string, string]>();
      for (const r of desired) versions.set(String(r.device_id), [`${num(r.version)}@${num(r.updated_at)}`, '']);
      for (const r of reported) {
        const id = String(r.device_id);
        versions.set(id, [versions.get(id)?.[0] ?? '', `${num(r.version)}@${num(r.reported_at)}`]);
      }
      return devices.map((r) => {
        const id = String(r.id);
        const twin = versions.get(id);
        return {
          id,
          name: strOrNull(r.name),
          protocol: String(r.protocol) as DeviceProtocol,
          online: boolOrNull(r.online),
          lastSeenAt: num(r.last_seen_at),
          statusAt: numOrNull(r.status_at),
          readingsStored: num(r.readings_stored),
          duplicatesAbsorbed: num(r.duplicates_absorbed),
          configVersion: twin === undefined ? null : `${twin[0]}|${twin[1]}`,
        };
      });
    });
  }

  /**
   * The devices named, with their readings counter and configuration twin (absent: unknown), one
   * statement per {@link INSERT_CHUNK_ROWS} ids.
   */
  fleetRows(ids: readonly string[]): Promise<Map<string, FleetRow>> {
    return this.db.read(async (sql) => {
      const found = new Map<string, FleetRow>();
      for (const chunk of chunks(ids, INSERT_CHUNK_ROWS)) {
        const idIn = this.db.inList('d.id', chunk);
        const rows = await sql.rows(
          `SELECT ${FLEET_COLUMNS} FROM devices d
           LEFT JOIN desired_configs dc ON dc.device_id = d.id
           LEFT JOIN reported_configs rc ON rc.device_id = d.id
           WHERE ${idIn.clause}`,
          idIn.params,
        );
        for (const row of rows) found.set(String(row.id), toFleetRow(row));
      }
      return found;
    });
  }

  /**
   * Each device's newest reading by measured time, for the devices named (absent: none yet): one
   * statement per {@link DEVICES_PER_STATEMENT} devices, each device one backward step on the
   * (device, measured_at) index (ties: the highest row id).
   */
  latestReadings(ids: readonly string[]): Promise<Map<string, LatestValues>> {
    return this.db.read(async (sql) => {
      const latest = new Map<string, LatestValues>();
      for (const chunk of chunks(ids, DEVICES_PER_STATEMENT)) {
        // A deferred join per device: asked for the wide row directly, MariaDB walks the index
        // from the device's first entry (see ReadingStore.page); the id alone is one step back.
        const rows = await sql.rows(
          chunk
            .map((_, i) => `SELECT r.device_id, r.measured_at, r.values_json FROM (SELECT id FROM readings WHERE device_id = ? ORDER BY measured_at DESC, id DESC LIMIT 1) l${i} JOIN readings r ON r.id = l${i}.id`)
            .join(' UNION ALL '),
          chunk,
        );
        for (const row of rows) latest.set(String(row.device_id), { measuredAt: num(row.measured_at), values: jsonObject(row.values_json) as LatestValues['values'] });
      }
      return latest;
    });
  }

  /**
   * The measuring interval of each device named, inferred as {@link presence} does (the median
   * spacing of its newest {@link INTERVAL_SAMPLE} readings without the clock-skew flag; null
   * with too few): one statement per {@link DEVICES_PER_STATEMENT} devices.
   */
  intervals(ids: readonly string[]): Promise<Map<string, number | null>> {
    return this.db.read(async (sql) => {
      const times = new Map<string, number[]>(ids.map((id) => [id, []]));
      for (const chunk of chunks(ids, DEVICES_PER_STATEMENT)) {
        // Ids from the index first, then the rows: as in presence(), a deferred join per device.
        const rows = await sql.rows(
          chunk
            .map(
              (_, i) => `SELECT r.device_id, r.measured_at, r.clock_skew FROM (SELECT id FROM readings WHERE device_id = ? ORDER BY measured_at DESC, id DESC LIMIT ${INTERVAL_SAMPLE}) n${i}
                         JOIN readings r ON r.id = n${i}.id`,
            )
            .join(' UNION ALL '),
          chunk,
        );
        for (const row of rows) if (num(row.clock_skew) === 0) times.get(String(row.device_id))?.push(num(row.measured_at));
      }
      return new Map([...times].map(([id, list]) => [id, medianInterval(list.filter(isUsableTime))]));
    });
  }

  getDevice(id: string): Promise<DeviceRecord | undefined> {
    return this.db.read(async (sql) => {
      const rows = await sql.rows(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ?`, [id]);
      return rows[0] === undefined ? undefined : toDevice(rows[0]);
    });
  }

  /**
   * How present the device is at `now` (backend time, from the caller's clock). A v1 device says
   * so in its status. The original software publishes no status and no Last Will, so for an
   * original device presence is inferred from its last message and the median spacing of its
   * newest {@link INTERVAL_SAMPLE} readings in measured time (docs/original-devices.md §4),
   * leaving out those with the clock-skew flag: a short read of the (device, measured_at) index.
   */
  async presence(device: DeviceRecord, now: number): Promise<DevicePresence> {
    if (device.protocol !== 'original') return statusPresence(device.online, device.lastSeenAt, now);
    // Flagged or impossible times say nothing of the spacing (a median withstands a few, not half).
    return presenceOf(device, (await this.intervals([device.id])).get(device.id) ?? null, now);
  }

  private async insertIfMissing(sql: Sql, deviceId: string, protocol: DeviceProtocol, at: number): Promise<void> {
    await this.db.insertSkippingDuplicates(sql, 'devices', ['id', 'protocol', 'first_seen_at', 'last_seen_at'], [[deviceId, protocol, at, at]], ['id']);
  }
}

/** A device's presence at `now`, given the interval inferred for it ({@link DeviceStore.intervals}; unused for a v1 device). */
export function presenceOf(device: Pick<DeviceRecord, 'protocol' | 'online' | 'lastSeenAt'>, intervalMs: number | null, now: number): DevicePresence {
  if (device.protocol !== 'original') return statusPresence(device.online, device.lastSeenAt, now);
  return inferPresence(device.lastSeenAt, intervalMs, now);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

function toFleetRow(r: Row): FleetRow {
  const deviceId = String(r.id);
  return {
    device: toDevice(r),
    readingsStored: num(r.readings_stored),
    desired:
      r.desired_version === null || r.desired_version === undefined
        ? undefined
        : { deviceId, version: num(r.desired_version), config: JSON.parse(String(r.desired_json)) as Record<string, string>, updatedAt: num(r.desired_at) },
    reported:
      r.reported_version === null || r.reported_version === undefined
        ? undefined
        : {
            deviceId,
            version: num(r.reported_version),
            config: JSON.parse(String(r.reported_json)) as Record<string, string>,
            errors: r.reported_errors === null ? null : (JSON.parse(String(r.reported_errors)) as ConfigKeyError[]),
            reportedAt: num(r.reported_at),
          },
  };
}

function toDevice(r: Row): DeviceRecord {
  return {
    id: String(r.id),
    protocol: String(r.protocol) as DeviceProtocol,
    deviceType: strOrNull(r.device_type),
    appId: strOrNull(r.app_id),
    appName: strOrNull(r.app_name),
    firstSeenAt: num(r.first_seen_at),
    lastSeenAt: num(r.last_seen_at),
    online: boolOrNull(r.online),
    status: jsonOrNull(r.status_json),
    statusAt: numOrNull(r.status_at),
    name: strOrNull(r.name),
    duplicatesAbsorbed: num(r.duplicates_absorbed),
  };
}
