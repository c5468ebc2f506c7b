import type { DeviceStore } from './device-store.ts';
import type { SqlAccess } from './sql-access.ts';

/**
 * Fingerprints of what the web admin's pages show, per device, for change polling: the web admin
 * runs in another process than the writers, so it compares one small read per table a second
 * with the previous one instead of listening on a channel. A fingerprint is opaque text that
 * changes whenever what it covers changes.
 */
export class ChangeStore {
  private readonly db: SqlAccess;
  private readonly devices: DeviceStore;

  constructor(db: SqlAccess, devices: DeviceStore) {
    this.db = db;
    this.devices = devices;
  }

  /** Per device: its row (presence, status, name, …) and the versions of its desired and reported configurations. */
  async deviceFingerprints(): Promise<Map<string, string>> {
    const [devices, configs] = await Promise.all([
      this.devices.listDevices(),
      this.db.read((sql) =>
        sql.rows(
          `SELECT device_id, 'd' AS side, version, updated_at AS at FROM desired_configs
           UNION ALL SELECT device_id, 'r' AS side, version, reported_at AS at FROM reported_configs`,
        ),
      ),
    ]);
    const fingerprints = new Map<string, string>();
    for (const device of devices) fingerprints.set(device.id, JSON.stringify(device));
    for (const row of configs) {
      const id = String(row.device_id);
      fingerprints.set(id, `${fingerprints.get(id) ?? ''}|${String(row.side)}${String(row.version)}@${String(row.at)}`);
    }
    return fingerprints;
  }

  /** Per device with commands: how many are in each state and the newest times of each step. */
  async commandFingerprints(): Promise<Map<string, string>> {
    const rows = await this.db.read((sql) =>
      sql.rows(
        `SELECT device_id, state, COUNT(*) AS n, MAX(created_at) AS created, MAX(answered_at) AS answered, MAX(delivered_at) AS delivered
         FROM commands GROUP BY device_id, state ORDER BY device_id, state`,
      ),
    );
    const fingerprints = new Map<string, string>();
    for (const row of rows) {
      const id = String(row.device_id);
      fingerprints.set(id, `${fingerprints.get(id) ?? ''}|${String(row.state)}:${String(row.n)}:${String(row.created)}:${String(row.answered)}:${String(row.delivered)}`);
    }
    return fingerprints;
  }
}
