/**
 * The JSON the web admin API answers, as the pages use it (backend/src/webadmin/api-routes.ts and
 * the OpenAPI document are the source). Everything in here is data from devices or operators and
 * therefore untrusted text.
 */

export type Role = 'viewer' | 'admin';

export interface SessionInfo {
  user: { username: string; role: Role };
  csrfToken: string | null;
}

/** The last v1 status message of a device as received. */
export interface DeviceStatus {
  online?: boolean;
  at?: number;
  backlog?: number;
  confirmed?: string | null;
  measuring?: boolean;
  interval_seconds?: number;
  redis?: { used_memory?: number; maxmemory?: number; full?: boolean };
  config_version?: number;
}

/**
 * The API's response shapes come from the server code that produces them, so the pages and the
 * routes cannot drift apart. Type-only imports: nothing of the server reaches the bundle.
 */
export type { CommandRecord, CommandState, DeviceRecord, RejectionRecord, Series, SeriesPoint } from '../../db/index.ts';
export type { BootGaps, BootSummary } from '../../db/index.ts';
export type { TokenRecord } from '../../db/user-store.ts';
export type { DesiredConfigRecord as DesiredConfig, ReportedConfigRecord as ReportedConfig } from '../../db/index.ts';
export type { DeviceDetail, ReadingRow as Reading, ReadingsPage } from '../api-routes.ts';
export type { DeviceIntegrity, Drift, FleetEntry, FleetPage, LatestReading } from '../overview-routes.ts';
export type { DevicePresence, SuspectedGap } from '../../db/cadence.ts';
export type { BootIntegrity, SuspectedGapScan } from '../../db/integrity-store.ts';
