import { type DevicePresence, inferPresence, isUsableTime, medianInterval, statusPresence } from './cadence.ts';
import type { DeviceProtocol } from './reading-store.ts';
import { boolOrNull, jsonOrNull, num, numOrNull, type Row, type Sql, type SqlAccess, strOrNull } from './sql-access.ts';

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

const DEVICE_COLUMNS = 'id, protocol, device_type, app_id, app_name, first_seen_at, last_seen_at, online, status_json, status_at, name, duplicates_absorbed';

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
    const rows = await this.db.read((sql) =>
      sql.rows(
        `SELECT r.measured_at, r.clock_skew FROM (SELECT id FROM readings WHERE device_id = ? ORDER BY measured_at DESC, id DESC LIMIT ?) newest
         JOIN readings r ON r.id = newest.id`,
        [device.id, INTERVAL_SAMPLE],
      ),
    );
    // Flagged or impossible times say nothing of the spacing (a median withstands a few, not half).
    const times = rows.filter((r) => num(r.clock_skew) === 0).map((r) => num(r.measured_at));
    return inferPresence(device.lastSeenAt, medianInterval(times.filter(isUsableTime)), now);
  }

  private async insertIfMissing(sql: Sql, deviceId: string, protocol: DeviceProtocol, at: number): Promise<void> {
    await this.db.insertSkippingDuplicates(sql, 'devices', ['id', 'protocol', 'first_seen_at', 'last_seen_at'], [[deviceId, protocol, at, at]], ['id']);
  }
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
