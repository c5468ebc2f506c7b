import { REJECTION_REASONS, type RejectionReason } from '@iot/common/protocol';
import { histogramSamples, type MetricFamily, renderFamilies } from '../metrics/prometheus-text.ts';

/** What the receiver was sent, by the channel it arrived on (`unknown` = no device channel matched). */
export const MESSAGE_KINDS = ['batch', 'original_readings', 'status', 'answer', 'reported_config', 'unknown'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** Where readings came from when the database could not take them. */
export type StoreKind = 'batch' | 'original_readings';

/**
 * Upper bounds in seconds: a healthy SQLite or MariaDB commit of a batch takes milliseconds; the
 * long tail shows lock waits and a struggling database before it is declared down.
 */
export const BATCH_STORE_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The process facts the metrics read at scrape time; injected so tests can pin them. */
export interface RuntimeProbe {
  uptimeSeconds(): number;
  residentMemoryBytes(): number;
  /** Monotonic milliseconds for durations: a wall clock can jump (and simulations skew it). */
  monotonicMs(): number;
}

export const nodeRuntime: RuntimeProbe = {
  uptimeSeconds: () => process.uptime(),
  residentMemoryBytes: () => process.memoryUsage.rss(),
  monotonicMs: () => performance.now(),
};

function zeroes<K extends string>(keys: readonly K[]): Map<K, number> {
  return new Map(keys.map((key) => [key, 0]));
}

/**
 * The receiver's counters and gauges since the process started, rendered as Prometheus text.
 * Every label value is known up front and starts at zero, so a series exists before its first
 * event and `rate()` sees the first increment.
 */
export class ReceiverMetrics {
  private readonly received = zeroes(MESSAGE_KINDS);
  private readonly rejected = zeroes<RejectionReason>(REJECTION_REASONS);
  private readonly unavailable = zeroes<StoreKind>(['batch', 'original_readings']);
  private stored = 0;
  private duplicates = 0;
  private conflicts = 0;
  private acks = 0;
  private rejectionRows = 0;
  private pruned = 0;
  private inFlight = 0;
  private inFlightPeak = 0;
  private inFlightBytes = 0;
  private groups = 0;
  private groupedBatches = 0;
  private groupsRefused = 0;
  private groupQueue: () => { batches: number; bytes: number } = () => ({ batches: 0, bytes: 0 });
  private databaseUp: () => boolean = () => true;
  private readonly storeBuckets = new Array<number>(BATCH_STORE_BUCKETS.length + 1).fill(0);
  private storeSeconds = 0;
  private readonly runtime: RuntimeProbe;

  constructor(runtime: RuntimeProbe = nodeRuntime) {
    this.runtime = runtime;
  }

  messageReceived(kind: MessageKind): void {
    this.received.set(kind, (this.received.get(kind) ?? 0) + 1);
  }

  messageStarted(bytes = 0): void {
    this.inFlight++;
    this.inFlightBytes += bytes;
    this.inFlightPeak = Math.max(this.inFlightPeak, this.inFlight);
  }

  messageFinished(bytes = 0): void {
    this.inFlight--;
    this.inFlightBytes -= bytes;
  }

  /** A group transaction of `batches` batches committed. */
  groupCommitted(batches: number): void {
    this.groups++;
    this.groupedBatches += batches;
  }

  /** A group transaction was refused and its batches went one by one. */
  groupRefused(): void {
    this.groupsRefused++;
  }

  /** Where the batches waiting for a group transaction are counted at scrape time. */
  watchGroupQueue(queue: () => { batches: number; bytes: number }): void {
    this.groupQueue = queue;
  }

  /** Counts what one committed store did. */
  readingsStored(result: { stored: number; duplicates: number; conflicts: number }): void {
    this.stored += result.stored;
    this.duplicates += result.duplicates;
    this.conflicts += result.conflicts;
  }

  /** Counts one message, or one entry of a batch, that was not stored. */
  rejection(reason: RejectionReason, count = 1): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + count);
  }

  ackPublished(): void {
    this.acks++;
  }

  /** Rows written to rejected_messages (one per message and reason, or a rate limit's summary). */
  rejectionRowsWritten(rows: number): void {
    this.rejectionRows += rows;
  }

  /** Rejection rows deleted by retention. */
  rejectionsPruned(rows: number): void {
    this.pruned += rows;
  }

  databaseUnavailable(kind: StoreKind): void {
    this.unavailable.set(kind, (this.unavailable.get(kind) ?? 0) + 1);
  }

  /** Where the database state is read at scrape time (it changes in the background, when a probe succeeds). */
  watchDatabase(up: () => boolean): void {
    this.databaseUp = up;
  }

  /**
   * Runs a store and, when it completed (by default: a result, not undefined for "database
   * unavailable"), records its duration: refused and failed attempts would only blur the picture
   * of real commits.
   */
  async timeStore<T>(store: () => Promise<T>, completed: (result: T) => boolean = (result) => result !== undefined): Promise<T> {
    const started = this.runtime.monotonicMs();
    const result = await store();
    if (completed(result)) this.observeStore((this.runtime.monotonicMs() - started) / 1000);
    return result;
  }

  private observeStore(seconds: number): void {
    const bucket = BATCH_STORE_BUCKETS.findIndex((bound) => seconds <= bound);
    const index = bucket === -1 ? BATCH_STORE_BUCKETS.length : bucket;
    this.storeBuckets[index] = (this.storeBuckets[index] ?? 0) + 1;
    this.storeSeconds += seconds;
  }

  /** The exposition text (format 0.0.4). */
  render(): string {
    return renderFamilies(this.families());
  }

  private families(): MetricFamily[] {
    const byLabel = <K extends string>(label: string, counts: Map<K, number>) => [...counts].map(([key, value]) => ({ labels: { [label]: key }, value }));
    return [
      { name: 'iot_receiver_messages_received_total', help: 'MQTT messages received, by kind.', type: 'counter', samples: byLabel('kind', this.received) },
      { name: 'iot_receiver_readings_stored_total', help: 'Readings newly written to the database.', type: 'counter', samples: [{ value: this.stored }] },
      {
        name: 'iot_receiver_readings_duplicate_total',
        help: 'Readings received again that were already stored (absorbed without a second row).',
        type: 'counter',
        samples: [{ value: this.duplicates }],
      },
      {
        name: 'iot_receiver_readings_conflict_total',
        help: 'Readings whose key was stored before with other data; the stored copy was kept.',
        type: 'counter',
        samples: [{ value: this.conflicts }],
      },
      {
        name: 'iot_receiver_rejections_total',
        help: 'Messages, or entries of a batch, not stored, by reason (identity conflicts included).',
        type: 'counter',
        samples: byLabel('reason', this.rejected),
      },
      {
        name: 'iot_receiver_rejection_rows_written_total',
        help: 'Rows written to rejected_messages: one per message and reason, however many entries, plus the rate limit\'s summaries.',
        type: 'counter',
        samples: [{ value: this.rejectionRows }],
      },
      { name: 'iot_receiver_rejection_rows_pruned_total', help: 'Rejection rows deleted by retention (age or row count).', type: 'counter', samples: [{ value: this.pruned }] },
      { name: 'iot_receiver_acks_published_total', help: 'Batch acknowledgements handed to the broker after the commit.', type: 'counter', samples: [{ value: this.acks }] },
      {
        name: 'iot_receiver_batches_database_unavailable_total',
        help: 'Batches not stored because the database was unavailable: a v1 batch is not acknowledged and comes again; original_readings are lost.',
        type: 'counter',
        samples: byLabel('kind', this.unavailable),
      },
      { name: 'iot_receiver_database_up', help: '1 while the database answers, 0 while the receiver considers it down.', type: 'gauge', samples: [{ value: this.databaseUp() ? 1 : 0 }] },
      { name: 'iot_receiver_messages_in_flight', help: 'Messages being processed right now.', type: 'gauge', samples: [{ value: this.inFlight }] },
      {
        name: 'iot_receiver_messages_in_flight_peak',
        help: 'The most messages in process at once since the start (bounded by RECEIVER_MAX_CONCURRENT).',
        type: 'gauge',
        samples: [{ value: this.inFlightPeak }],
      },
      { name: 'iot_receiver_message_bytes_in_flight', help: 'Payload bytes of the messages being processed right now.', type: 'gauge', samples: [{ value: this.inFlightBytes }] },
      { name: 'iot_receiver_group_waiting_batches', help: 'Batches waiting for a group transaction.', type: 'gauge', samples: [{ value: this.groupQueue().batches }] },
      { name: 'iot_receiver_group_waiting_bytes', help: 'Payload bytes of the batches waiting for a group transaction.', type: 'gauge', samples: [{ value: this.groupQueue().bytes }] },
      { name: 'iot_receiver_group_commits_total', help: 'Group transactions of two or more batches committed.', type: 'counter', samples: [{ value: this.groups }] },
      { name: 'iot_receiver_group_batches_total', help: 'Batches committed in group transactions (divided by the commits: batches per group).', type: 'counter', samples: [{ value: this.groupedBatches }] },
      { name: 'iot_receiver_group_refused_total', help: 'Group transactions refused, whose batches were then stored one by one.', type: 'counter', samples: [{ value: this.groupsRefused }] },
      {
        name: 'iot_receiver_batch_store_duration_seconds',
        help: 'Time from handing a batch to the store until its commit, waiting for a group transaction included, for stores that completed.',
        type: 'histogram',
        samples: histogramSamples(BATCH_STORE_BUCKETS, this.storeBuckets, this.storeSeconds),
      },
      { name: 'iot_receiver_uptime_seconds', help: 'Seconds since the receiver process started.', type: 'gauge', samples: [{ value: this.runtime.uptimeSeconds() }] },
      { name: 'iot_receiver_resident_memory_bytes', help: 'Resident set size of the receiver process.', type: 'gauge', samples: [{ value: this.runtime.residentMemoryBytes() }] },
    ];
  }
}
