import type { SqlAccess } from '../db/index.ts';

/**
 * The queries behind the per-device limits (device-limits.ts), over `device_metrics` (migration
 * ReceiverLimits) and `boots`. Here rather than in a db/ store because only the receiver asks
 * them, and each is one indexed lookup by device.
 */
export function cardinalitySql(sql: SqlAccess) {
  return {
    deviceMetrics: (deviceId: string) =>
      sql.read(async (s) => (await s.rows('SELECT metric FROM device_metrics WHERE device_id = ?', [deviceId])).map((r) => String(r.metric))),

    addDeviceMetrics: async (deviceId: string, names: readonly string[], at: number) => {
      if (names.length === 0) return;
      await sql.transaction((s) => sql.insertSkippingDuplicates(s, 'device_metrics', ['device_id', 'metric', 'first_seen_at'], names.map((n) => [deviceId, n, at]), ['device_id', 'metric']));
    },

    knownBoots: (deviceId: string, bootIds: readonly string[]) => {
      if (bootIds.length === 0) return Promise.resolve([]);
      const bootIn = sql.inList('boot_id', [...bootIds]);
      return sql.read(async (s) => (await s.rows(`SELECT boot_id FROM boots WHERE device_id = ? AND ${bootIn.clause}`, [deviceId, ...bootIn.params])).map((r) => String(r.boot_id)));
    },

    bootsSeenSince: (deviceId: string, since: number) =>
      sql.read(async (s) => Number((await s.rows('SELECT COUNT(*) AS n FROM boots WHERE device_id = ? AND first_seen_at >= ?', [deviceId, since]))[0]?.n ?? 0)),
  };
}
