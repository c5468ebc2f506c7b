import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import type { NewRejection } from '../db/index.ts';
import type { DatabaseGate, GateOutcome } from './database-gate.ts';
import type { IngestStore } from './ingest-store.ts';
import type { ReceiverLimits } from './limits.ts';
import type { ReceiverMetrics } from './metrics.ts';
import { RejectionRateLimit } from './rejection-rate-limit.ts';

const DAY_MS = 86_400_000;

type Limits = Pick<ReceiverLimits, 'rejectionsPerDevicePerMinute' | 'rejectionRetentionDays' | 'rejectionMaxRows' | 'rejectionSweepMs'>;

/**
 * Where the receiver's rejections go: rows of one message in one transaction, through the
 * per-device rate limit (rejection-rate-limit.ts), and a sweep every `rejectionSweepMs` that writes
 * the rate limit's summary rows and applies retention (by age and by row count). Together with one
 * row per message and reason (rejection-rows.ts) this bounds what devices can make the table grow
 * by, whatever they send. The sweep runs on the injected clock, so tests can move time.
 */
export class RejectionLog {
  private readonly rateLimit: RejectionRateLimit;
  private readonly options: { store: IngestStore; gate: DatabaseGate; clock: Clock; logger: Logger; limits: Limits; metrics: ReceiverMetrics };

  constructor(options: { store: IngestStore; gate: DatabaseGate; clock: Clock; logger: Logger; limits: Limits; metrics: ReceiverMetrics }) {
    this.options = options;
    this.rateLimit = new RejectionRateLimit({ perMinute: options.limits.rejectionsPerDevicePerMinute, clock: options.clock });
  }

  /**
   * Writes the rows of one message that the rate limit admits; the rest wait for the next summary.
   * @returns (when done) how many rows were written, so callers log held-back ones quietly: a
   * device flooding garbage must not flood the logs either.
   */
  async record(rows: readonly NewRejection[]): Promise<GateOutcome<number>> {
    const receivedAt = this.options.clock.now();
    const admitted = this.rateLimit.admit(rows.map((row) => ({ receivedAt, ...row })));
    if (admitted.length === 0) return { status: 'done', value: 0 };
    const outcome = await this.options.gate.run('recording a rejection', () => this.options.store.recordRejections(admitted));
    if (outcome.status !== 'done') return outcome;
    this.options.metrics.rejectionRowsWritten(admitted.length);
    return { status: 'done', value: admitted.length };
  }

  /** Rejections held back by the rate limit and not yet in a summary row. */
  get held(): number {
    return this.rateLimit.heldCount;
  }

  /** Summary rows of the rate limit, then retention. Never throws: what fails is tried next sweep. */
  async sweep(): Promise<void> {
    const { store, gate, clock, logger, limits, metrics } = this.options;
    const summaries = this.rateLimit.takeSummaries();
    if (summaries.rows.length > 0) {
      const written = await gate.run('recording rate-limited rejections', () => store.recordRejections(summaries.rows));
      if (written.status === 'done') {
        metrics.rejectionRowsWritten(summaries.rows.length);
        const counts = summaries.rows.map((r) => ({ device: r.deviceId, count: r.count }));
        logger.warn({ event: 'rejections_rate_limited', devices: counts }, 'devices caused more rejections than the rate limit records one by one; summarised');
      } else {
        summaries.putBack();
      }
    }
    const before = clock.now() - limits.rejectionRetentionDays * DAY_MS;
    const pruned = await gate.run('applying rejection retention', () => store.pruneRejections({ before, keepRows: limits.rejectionMaxRows }));
    if (pruned.status === 'done' && pruned.value.byAge + pruned.value.byCount > 0) {
      metrics.rejectionsPruned(pruned.value.byAge + pruned.value.byCount);
      logger.info({ event: 'rejections_pruned', by_age: pruned.value.byAge, by_count: pruned.value.byCount }, 'old rejections deleted (retention)');
    }
    if (pruned.status === 'refused') logger.error({ event: 'receiver_bug', err: pruned.error }, 'rejection retention failed');
  }

  /** Sweeps every `rejectionSweepMs` until `signal` aborts (the receiver sweeps once more when its last message is done). */
  async run(signal: AbortSignal): Promise<void> {
    for (;;) {
      await this.options.clock.sleep(this.options.limits.rejectionSweepMs, signal);
      if (signal.aborted) return;
      await this.sweep();
    }
  }
}
