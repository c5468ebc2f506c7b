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

export interface DeviceRecord {
  id: string;
  protocol: 'v1' | 'original';
  deviceType: string | null;
  appId: string | null;
  appName: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
  online: boolean | null;
  status: DeviceStatus | null;
  statusAt: number | null;
  name: string | null;
}

export interface DesiredConfig {
  version: number;
  config: Record<string, string>;
  updatedAt?: number;
}

export interface ConfigError {
  key: string;
  code: string;
  message: string;
}

export interface ReportedConfig {
  version: number;
  config: Record<string, string>;
  errors: ConfigError[] | null;
  reportedAt?: number;
}

export interface Drift {
  key: string;
  desired: string;
  reported: string | null;
}

export interface FleetEntry {
  device: DeviceRecord;
  latest: LatestReading | null;
  desiredConfig: DesiredConfig | null;
  reportedConfig: ReportedConfig | null;
  drift: Drift[];
}

/** A device's newest reading by measured time. */
export interface LatestReading {
  measuredAt: number;
  values: Record<string, number>;
}

export interface DeviceDetail {
  device: DeviceRecord;
  desiredConfig: DesiredConfig | null;
  reportedConfig: ReportedConfig | null;
  latest: LatestReading | null;
}

/** [bucket start ms, min, mean, max, count] */
export type SeriesPoint = [number, number, number, number, number];

export interface Series {
  from: number;
  to: number;
  resolution: 'raw' | 'minute' | 'hour';
  metrics: Record<string, SeriesPoint[]>;
}

export interface Reading {
  id: number;
  bootId: string | null;
  seq: number | null;
  measuredAt: number;
  receivedAt: number;
  values: Record<string, unknown>;
}

export interface ReadingsPage {
  readings: Reading[];
  /** Cursor for the next page (`after`), null on the last. */
  next: string | null;
}

export type CommandState = 'pending' | 'delivered' | 'answered' | 'expired' | 'failed';

export interface CommandRecord {
  id: string;
  deviceId: string;
  command: string;
  args: Record<string, unknown>;
  state: CommandState;
  createdAt: number;
  expiresAt: number;
  deliveredAt: number | null;
  answeredAt: number | null;
  ok: boolean | null;
  response: unknown;
}

export interface BootGaps {
  bootId: string;
  firstSeenAt: number;
  readings: number;
  maxSeq: number | null;
  shutdownSeq: number | null;
  missing: Array<{ from: number; to: number }>;
}

export interface DeviceIntegrity {
  id: string;
  name: string | null;
  readings: number;
  duplicatesAbsorbed: number;
  missing: number;
  boots: BootGaps[];
}

export interface RejectionRecord {
  id: number;
  receivedAt: number;
  topic: string;
  deviceId: string | null;
  reason: string;
  detail: string;
  payloadExcerpt: string;
  payloadBytes: number;
}
