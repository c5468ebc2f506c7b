import type { DeviceStatus, RejectionReason } from '@iot/common/protocol';
import type { IncomingReading, IncomingShutdown } from './batch-mapping.ts';

/** What the receiver needs from the database; implemented over the TypeORM stores. */
export interface IngestStore {
  /**
   * Stores readings of one device in one transaction; a reading already stored (same device and
   * reading key) is a no-op. `conflicts` are those whose stored copy differs.
   */
  storeBatch(
    deviceId: string,
    protocol: 'v1' | 'original',
    readings: readonly IncomingReading[],
    shutdowns: readonly IncomingShutdown[],
    meta: DeviceMeta,
  ): Promise<{ stored: number; duplicates: number; conflicts: readonly StoredConflict[] }>;
  recordRejection(rejection: { topic: string; deviceId: string | undefined; reason: RejectionReason; detail: string; payload: Buffer }): Promise<void>;
  recordStatus(deviceId: string, status: DeviceStatus, receivedAt: number): Promise<void>;
  recordReported(deviceId: string, version: number, config: Record<string, string>, errors: readonly { key: string; code: string; message: string }[] | undefined): Promise<void>;
  /** The latest desired configuration, if any. */
  desired(deviceId: string): Promise<{ version: number; config: Record<string, string> } | undefined>;
  /** Records an answer; returns false if no command matched. */
  recordResponse(deviceId: string, response: { id?: string | undefined; command: string; ok: boolean; body: unknown }, at: number): Promise<boolean>;
  /** Marks commands whose expiry passed without an answer. */
  expireCommands(now: number): Promise<number>;
  /** A cheap query that fails when the database is unreachable. */
  ping(): Promise<void>;
}

export interface DeviceMeta {
  deviceType?: string | undefined;
  appId?: string | undefined;
  appName?: string | undefined;
}

/** A reading key stored before with other data: the stored copy is kept and this is reported. */
export interface StoredConflict {
  key: string;
  stored: { measuredAt: number; values: Record<string, number> };
  received: { measuredAt: number; values: Record<string, number> };
}
