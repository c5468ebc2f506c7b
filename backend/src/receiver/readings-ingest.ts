import type { Logger } from '@iot/common/log';
import { type Decoded, decodeJsonPayload, encodeAck, originalReadingsMessage, type ReadingsBatch, readingsBatch, type Rejection } from '@iot/common/protocol';
import type { NewReading, ReadingConflict, ReadingsMeta, ShutdownMarker, StoreResult } from '../db/index.ts';
import { mapBatch, mapOriginalReadings } from './batch-mapping.ts';
import type { DatabaseGate } from './database-gate.ts';
import { type Admitted, DeviceLimits } from './device-limits.ts';
import type { GroupCommitter } from './group-commit.ts';
import type { IngestStore } from './ingest-store.ts';
import { LIMIT_ENV, type ReceiverLimits } from './limits.ts';
import type { ReceiverMetrics, StoreKind } from './metrics.ts';
import type { RejectionLog } from './rejection-log.ts';
import { type MessageOrigin, type PartRejection, rejectionRows } from './rejection-rows.ts';

export interface ReadingsIngestOptions {
  store: IngestStore;
  gate: DatabaseGate;
  /** Where admitted batches are stored, several devices' in one transaction. */
  committer: GroupCommitter;
  rejections: RejectionLog;
  metrics: ReceiverMetrics;
  logger: Logger;
  limits: ReceiverLimits;
  /** Largest v1 batch. */
  maxPayloadBytes: number;
  /** Largest original-format message: the original's whole backlog in one (docs/protocol.md §9). */
  maxOriginalPayloadBytes: number;
  now: () => number;
  /** Records a rejection of the whole message. */
  reject: (topic: string, deviceId: string, payload: Buffer, rejection: Rejection) => Promise<void>;
  /** Publishes the ack of a committed batch. */
  ack: (deviceId: string, payload: string) => void;
}

/** What became of a message's readings: stored (with what was not), or not, because the database is unavailable. */
type Ingested = { result: StoreResult; rejected: PartRejection[] } | undefined;

/**
 * The two readings channels: v1 batches (acknowledged after the commit) and the original format
 * (no acks; the device never sends again). Both go the same way: decode the message; map its
 * entries, each of which may be rejected on its own; apply the limits that need the database;
 * store, in a transaction shared with other devices' batches (group-commit.ts) and isolating what
 * the database refuses (isolating-store.ts); record the rejected parts as one row per reason
 * (rejection-rows.ts); then acknowledge a v1 batch, covering the rejected entries too, so one bad
 * entry never stalls a device.
 */
export class ReadingsIngest {
  private readonly options: ReadingsIngestOptions;
  private readonly deviceLimits: DeviceLimits;
  /** The large original-format message being decoded and stored, if any (see onOriginalReadings). */
  private largeOriginal: Promise<void> = Promise.resolve();

  constructor(options: ReadingsIngestOptions) {
    this.options = options;
    this.deviceLimits = new DeviceLimits(options.limits, options.store);
  }

  async onBatch(topic: string, deviceId: string, payload: Buffer): Promise<void> {
    const parsed: Decoded<ReadingsBatch> = decodeJsonPayload(readingsBatch, payload, this.options.maxPayloadBytes);
    if (!parsed.ok) return this.options.reject(topic, deviceId, payload, parsed.rejection);
    const batch = parsed.value;
    if (batch.device !== deviceId) {
      return this.options.reject(topic, deviceId, payload, { reason: 'device_mismatch', detail: `payload says device "${batch.device}" but was published on ${topic}` });
    }
    const mapped = mapBatch(batch, this.options.now(), this.options.limits);
    const origin: MessageOrigin = { topic, deviceId, payload, parts: 'entries', total: batch.entries.length };
    const meta = readingsMeta('v1', batch.meta);
    const ingested = await this.ingest('batch', origin, mapped.readings, mapped.shutdowns, mapped.rejected, meta);
    if (ingested === undefined) return;
    const { result, rejected } = ingested;
    const ack = encodeAck({ batch: batch.batch, up_to: mapped.upTo, stored: result.stored, duplicates: result.duplicates, rejected: rejected.length });
    // Only now, after the commit: the device may forget these readings once it sees this.
    this.options.ack(deviceId, ack);
    this.options.metrics.ackPublished();
    this.options.logger.debug(
      { event: 'batch_committed', device: deviceId, batch: batch.batch, stored: result.stored, duplicates: result.duplicates, conflicts: result.conflicts.length, rejected: rejected.length },
      'batch committed and acknowledged',
    );
  }

  /**
   * Original devices advance their cursor on publish; store what arrives, idempotently, no ack.
   * After an outage the message is the whole backlog (docs/protocol.md §9): up to
   * `maxOriginalPayloadBytes`, stored in bounded transactions by the store (reading-store.ts).
   */
  onOriginalReadings(topic: string, deviceId: string, payload: Buffer): Promise<void> {
    if (payload.length <= this.options.maxPayloadBytes) return this.originalReadings(topic, deviceId, payload);
    // One backlog larger than a batch at a time: decoding and storing one takes ~13 times its size
    // in memory (~215 MiB for 16 MiB); interleaved, several only hold each other's memory longer
    // (bench:original-backlog, one run of 4 × 16 MiB at once: 22 s, 505 MiB peak; without: 40 s, 525 MiB).
    const turn = this.largeOriginal.then(() => this.originalReadings(topic, deviceId, payload));
    this.largeOriginal = turn.catch(() => {});
    return turn;
  }

  private async originalReadings(topic: string, deviceId: string, payload: Buffer): Promise<void> {
    const parsed = decodeJsonPayload(originalReadingsMessage, payload, this.options.maxOriginalPayloadBytes);
    if (!parsed.ok) return this.options.reject(topic, deviceId, payload, parsed.rejection);
    const { limits } = this.options;
    const elements = parsed.value;
    const within = elements.length > limits.maxReadingsPerOriginalMessage ? elements.slice(0, limits.maxReadingsPerOriginalMessage) : elements;
    const mapped = mapOriginalReadings(within, deviceId, topic, this.options.now(), limits);
    for (let i = within.length; i < elements.length; i++) {
      mapped.rejected.push({
        part: elements[i],
        rejection: {
          reason: 'limit_exceeded',
          detail: `element ${i} of a message of ${elements.length}: at most ${limits.maxReadingsPerOriginalMessage} readings per original-format message (${LIMIT_ENV.maxReadingsPerOriginalMessage}); the first ${within.length} were taken`,
        },
      });
    }
    const origin: MessageOrigin = { topic, deviceId, payload, parts: 'elements', total: elements.length };
    const protocol = mapped.readings.some((r) => r.bootId !== null) || mapped.shutdowns.length > 0 ? 'v1' : 'original';
    const { stamp } = mapped;
    const meta = readingsMeta(protocol, { device_type: stamp._device_type, app_id: stamp._app_id, app_name: stamp._app_name });
    if (mapped.readings.length === 0 && mapped.shutdowns.length === 0) {
      await this.record(origin, mapped.rejected);
      return;
    }
    const ingested = await this.ingest('original_readings', origin, mapped.readings, mapped.shutdowns, mapped.rejected, meta);
    if (ingested === undefined) {
      this.options.logger.error(
        { event: 'original_readings_lost', device: deviceId, count: mapped.readings.length + mapped.shutdowns.length },
        'database down: readings from an original-format device could not be stored and will not be re-sent',
      );
    }
  }

  /** Limits, store, record: undefined if the database was unavailable on the way (then nothing may be acknowledged). */
  private async ingest(kind: StoreKind, origin: MessageOrigin, readings: NewReading[], shutdowns: ShutdownMarker[], invalid: PartRejection[], meta: ReadingsMeta): Promise<Ingested> {
    const { committer, metrics } = this.options;
    const deviceId = origin.deviceId!;
    const admitted = await this.admit(deviceId, readings, shutdowns);
    if (admitted === undefined) return this.unavailable(kind);
    const stored = await metrics.timeStore(
      () => committer.store({ deviceId, readings: admitted.readings, meta: { ...meta, shutdowns: admitted.shutdowns }, bytes: origin.payload.length, what: `storing ${kind.replace('_', ' ')}` }),
      (outcome) => outcome.status === 'done',
    );
    if (stored.status === 'unavailable') return this.unavailable(kind);
    const rejected = [...invalid, ...admitted.rejected, ...stored.refused, ...stored.result.conflicts.map(conflictPart)];
    // After the commit: a crash before this line means no ack, so the batch comes again and its
    // rejected entries are rejected (and recorded) again.
    if (!(await this.record(origin, rejected))) return this.unavailable(kind);
    metrics.readingsStored({ stored: stored.result.stored, duplicates: stored.result.duplicates, conflicts: stored.result.conflicts.length });
    return { result: stored.result, rejected };
  }

  /** The per-device limits; failing open on a bug in them (the readings matter more than the limit). */
  private async admit(deviceId: string, readings: NewReading[], shutdowns: ShutdownMarker[]): Promise<Admitted | undefined> {
    const outcome = await this.options.gate.run('checking device limits', () => this.deviceLimits.admit(deviceId, readings, shutdowns, this.options.now()));
    if (outcome.status === 'done') return outcome.value;
    if (outcome.status === 'unavailable') return undefined;
    this.options.logger.error({ event: 'receiver_bug', device: deviceId, err: outcome.error }, 'device limits could not be checked; storing without them');
    return { readings, shutdowns, rejected: [] };
  }

  /** Records the rejected parts as one row per reason; false if the database was unavailable. */
  private async record(origin: MessageOrigin, rejected: readonly PartRejection[]): Promise<boolean> {
    if (rejected.length === 0) return true;
    const rows = rejectionRows(origin, rejected);
    const outcome = await this.options.rejections.record(rows);
    if (outcome.status === 'unavailable') return false;
    if (outcome.status === 'refused') this.options.logger.error({ event: 'receiver_bug', device: origin.deviceId, err: outcome.error }, 'rejections could not be recorded');
    for (const row of rows) this.options.metrics.rejection(row.reason, row.count ?? 1);
    const held = outcome.status === 'done' && outcome.value === 0;
    this.options.logger[held ? 'debug' : 'warn'](
      { event: 'entries_rejected', topic: origin.topic, device: origin.deviceId, reasons: Object.fromEntries(rows.map((r) => [r.reason, r.count])), first: rows[0]?.detail, rate_limited: held },
      'entries rejected',
    );
    return true;
  }

  private unavailable(kind: StoreKind): undefined {
    this.options.metrics.databaseUnavailable(kind);
    return undefined;
  }
}

function conflictPart(conflict: ReadingConflict): PartRejection {
  return {
    part: conflict,
    rejection: {
      reason: 'identity_conflict',
      detail: `reading ${conflict.key} was stored before with other data (stored ${JSON.stringify(conflict.stored)}, received ${JSON.stringify(conflict.received)}); the stored copy was kept`,
    },
  };
}

/** What the sender told about itself, as the database takes it. */
function readingsMeta(protocol: ReadingsMeta['protocol'], meta: ReadingsBatch['meta']): ReadingsMeta {
  return { protocol, deviceType: meta?.device_type, appId: meta?.app_id, appName: meta?.app_name };
}
