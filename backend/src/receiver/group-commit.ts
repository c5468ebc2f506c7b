import type { Logger } from '@iot/common/log';
import type { NewReading, ReadingsMeta } from '../db/index.ts';
import { STORE_CHUNK_READINGS } from '../db/reading-store.ts';
import type { DatabaseGate } from './database-gate.ts';
import type { IngestStore } from './ingest-store.ts';
import { type IsolatedStore, storeIsolating } from './isolating-store.ts';
import type { ReceiverMetrics } from './metrics.ts';

/** How large a group transaction may grow, and how many run at once (config.ts). */
export interface GroupCommitLimits {
  /** Batches in one transaction. */
  maxBatches: number;
  /** Readings (and shutdown markers) in one transaction; a larger batch is stored on its own. */
  maxReadings: number;
  /** Payload bytes of the batches in one transaction. */
  maxBytes: number;
  /**
   * Group transactions at once, each for its own share of the devices (SQLite serialises them
   * anyway).
   */
  writers: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitLimits = { maxBatches: 256, maxReadings: 10_000, maxBytes: 8 * 1024 * 1024, writers: 2 };

/** One device's batch, admitted by the limits, waiting for a transaction. */
export interface PendingBatch {
  deviceId: string;
  readings: readonly NewReading[];
  meta: ReadingsMeta;
  /** The message's payload size: what the batch costs in memory while it waits. */
  bytes: number;
  /** For the gate's log: what is being stored. */
  what: string;
}

interface Waiting {
  batch: PendingBatch;
  size: number;
  settle: (outcome: IsolatedStore) => void;
}

/**
 * Group commit: batches of many devices stored in few transactions. Each device belongs to one
 * writer (by a hash of its id), so the transactions of two writers never touch the same device's
 * rows and never wait for each other's locks, and a device's batches are written in the order they
 * came. A batch that arrives while its writer is busy waits; when the writer is free it takes its
 * waiting batches in arrival order, as many as fit the limits, and stores them in one transaction
 * (IngestStore.storeBatches). Each batch's promise resolves only after the COMMIT that holds it,
 * so its ack still means "committed" (docs/receiver-throughput.md §1).
 *
 * What a group transaction cannot do is settled as for a single batch: an outage (the gate says
 * unavailable) leaves every batch of the group unacknowledged, to come again; a refusal (an error
 * that is not the database's, caused by one batch's data) makes every batch of the group go alone
 * through storeIsolating, so the others are stored and acknowledged and only what fails by itself
 * is rejected. The queue itself is not bounded here: the receiver stops taking messages from the
 * broker while too many are in process (receiver.ts), and every waiting batch is one of those.
 */
export class GroupCommitter {
  private readonly writers: { queue: Waiting[]; busy: boolean }[];
  private queuedBytes = 0;
  private readonly options: { gate: DatabaseGate; store: IngestStore; logger: Logger; metrics: ReceiverMetrics; limits: GroupCommitLimits };

  constructor(options: { gate: DatabaseGate; store: IngestStore; logger: Logger; metrics: ReceiverMetrics; limits: GroupCommitLimits }) {
    this.options = options;
    this.writers = Array.from({ length: Math.max(1, options.limits.writers) }, () => ({ queue: [], busy: false }));
    options.metrics.watchGroupQueue(() => ({ batches: this.waiting, bytes: this.queuedBytes }));
  }

  /** Batches waiting for a transaction (not those being written). */
  get waiting(): number {
    return this.writers.reduce((sum, w) => sum + w.queue.length, 0);
  }

  /** Stores one batch in the next group transaction; resolves after its commit (or with why not). */
  store(batch: PendingBatch): Promise<IsolatedStore> {
    const size = batch.readings.length + (batch.meta.shutdowns?.length ?? 0);
    // Too large to share a transaction: stored on its own, in the store's own chunks.
    if (size > this.options.limits.maxReadings || batch.readings.length > STORE_CHUNK_READINGS) return this.alone(batch);
    const writer = this.writers[hash(batch.deviceId) % this.writers.length]!;
    return new Promise<IsolatedStore>((settle) => {
      writer.queue.push({ batch, size, settle });
      this.queuedBytes += batch.bytes;
      this.pump(writer);
    });
  }

  private pump(writer: { queue: Waiting[]; busy: boolean }): void {
    if (writer.busy || writer.queue.length === 0) return;
    const group = this.take(writer.queue);
    writer.busy = true;
    void this.write(group).finally(() => {
      writer.busy = false;
      this.pump(writer);
    });
  }

  /** The oldest waiting batches that fit the limits together; at least one. */
  private take(queue: Waiting[]): Waiting[] {
    const { maxBatches, maxReadings, maxBytes } = this.options.limits;
    let readings = 0;
    let bytes = 0;
    let count = 0;
    for (const item of queue) {
      if (count > 0 && (count + 1 > maxBatches || readings + item.size > maxReadings || bytes + item.batch.bytes > maxBytes)) break;
      count++;
      readings += item.size;
      bytes += item.batch.bytes;
    }
    this.queuedBytes -= bytes;
    return queue.splice(0, count);
  }

  private async write(group: Waiting[]): Promise<void> {
    const { gate, store, logger, metrics } = this.options;
    try {
      if (group.length === 1) {
        const [only] = group;
        only!.settle(await this.alone(only!.batch));
        return;
      }
      const outcome = await gate.run(
        `storing a group of ${group.length} batches`,
        () => store.storeBatches(group.map(({ batch }) => ({ deviceId: batch.deviceId, readings: batch.readings, meta: batch.meta }))),
      );
      if (outcome.status === 'done') {
        metrics.groupCommitted(group.length);
        logger.debug({ event: 'group_committed', batches: group.length, readings: group.reduce((sum, w) => sum + w.size, 0), devices: new Set(group.map((w) => w.batch.deviceId)).size }, 'group committed');
        for (const [i, item] of group.entries()) item.settle({ status: 'done', result: outcome.value[i]!, refused: [] });
        return;
      }
      if (outcome.status === 'unavailable') {
        for (const item of group) item.settle({ status: 'unavailable' });
        return;
      }
      // One batch's data (most likely) made the whole group fail: each goes alone, so only that one
      // is rejected, and only in its failing parts.
      metrics.groupRefused();
      logger.warn(
        { event: 'group_refused', batches: group.length, devices: [...new Set(group.map((w) => w.batch.deviceId))].slice(0, 20), err: outcome.error },
        'a group transaction was refused; storing its batches one by one',
      );
      for (const item of group) item.settle(await this.alone(item.batch));
    } catch (error) {
      // A bug here must not leave a message waiting forever: unacknowledged, the batches come again.
      logger.error({ event: 'receiver_bug', err: error }, 'group commit failed');
      for (const item of group) item.settle({ status: 'unavailable' });
    }
  }

  private alone(batch: PendingBatch): Promise<IsolatedStore> {
    return storeIsolating(this.options.gate, this.options.store, batch.deviceId, batch.readings, batch.meta, batch.what);
  }
}

/** FNV-1a: a stable, even spread of device ids over the writers. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
