import type { DeviceStatus } from '@iot/common/protocol';
import type { ConfigKeyError, DesiredConfigRecord, NewReading, NewRejection, ReadingsMeta, StoreResult } from '../db/index.ts';
import type { GroupBatch } from '../db/reading-store.ts';

/**
 * What the receiver needs from the database; implemented over the stores (database-ingest-store.ts).
 * It speaks the database's own types, so a reading, a marker or a rejection has one shape from
 * the receiver to the table.
 */
export interface IngestStore {
  /**
   * Stores readings of one device, and the shutdown markers in `meta`, in one transaction; a
   * reading already stored (same device and reading key) is a no-op. `conflicts` are those whose
   * stored copy differs.
   */
  storeBatch(deviceId: string, readings: readonly NewReading[], meta: ReadingsMeta): Promise<StoreResult>;
  /**
   * Stores the batches of several devices in one transaction, each as {@link storeBatch} would
   * (at most STORE_CHUNK_READINGS readings each); results in the order given. All or nothing.
   */
  storeBatches(batches: readonly GroupBatch[]): Promise<StoreResult[]>;
  /** Records the rejection rows of one message in one transaction. */
  recordRejections(rejections: readonly NewRejection[]): Promise<void>;
  /** Retention: deletes rejections received before `before`, and all but the newest `keepRows`. */
  pruneRejections(options: { before: number; keepRows: number }): Promise<{ byAge: number; byCount: number }>;
  /** The metric names a device has sent (device-limits.ts). */
  deviceMetrics(deviceId: string): Promise<string[]>;
  /** Registers metric names of a device; known ones are skipped. */
  addDeviceMetrics(deviceId: string, names: readonly string[], at: number): Promise<void>;
  /** Which of `bootIds` the device has had stored before. */
  knownBoots(deviceId: string, bootIds: readonly string[]): Promise<string[]>;
  /** How many boots of the device were first seen at or after `since`. */
  bootsSeenSince(deviceId: string, since: number): Promise<number>;
  recordStatus(deviceId: string, status: DeviceStatus, receivedAt: number): Promise<void>;
  recordReported(deviceId: string, version: number, config: Record<string, string>, errors: readonly ConfigKeyError[] | undefined): Promise<void>;
  /** The latest desired configuration, if any. */
  desired(deviceId: string): Promise<Pick<DesiredConfigRecord, 'version' | 'config'> | undefined>;
  /** Records an answer; returns false if no command matched. */
  /** `ok` is null when the answer does not say how it went (the original's, docs/original-devices.md §3). */
  recordResponse(deviceId: string, response: { id?: string | undefined; command: string; ok: boolean | null; body: unknown }, at: number): Promise<boolean>;
  /** Marks commands whose expiry passed without an answer. */
  expireCommands(now: number): Promise<number>;
  /** A cheap query that fails when the database is unreachable. */
  ping(): Promise<void>;
}
