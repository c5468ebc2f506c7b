import type { Logger } from '@iot/common/log';
import { type Ack, decodeAck } from '@iot/common/protocol';

/** A batch this process published: what an ack must name to count. */
export interface SentBatch {
  name: string;
  /** The read position the batch was read after (send-window.ts). */
  after: string | undefined;
  first: string;
  last: string;
  count: number;
  sentAt: number;
  /** The send window's epoch when the batch was read. */
  epoch: number;
}

export type AckVerdict = { ok: true; batch: SentBatch; ack: Ack } | { ok: false; reason: 'invalid' | 'unknown_batch' | 'up_to_mismatch'; detail: string };

/** Batches remembered beyond the window: earlier publications whose acks may still arrive late. */
const REMEMBERED_BEYOND_WINDOW = 64;

/**
 * Recognises acknowledgements of this process's own batches. An ack counts only if it names a
 * batch published here and its `up_to` is that batch's last id: batches are always read
 * contiguously from the cursor, so such an ack proves the receiver committed every entry up to
 * there (docs/delivery-guarantee.md §2). Anything else — malformed, a batch of an earlier run, a forged or
 * foreign `up_to` — moves nothing; at worst the batch is published again and acked again.
 */
export class AckTracker {
  private readonly sent = new Map<string, SentBatch>();
  private readonly logger: Logger;
  private readonly remembered: number;

  /** `window`: how many batches may be in flight at once (UPLINK_WINDOW). */
  constructor(options: { logger: Logger; window?: number }) {
    this.logger = options.logger;
    this.remembered = (options.window ?? 1) + REMEMBERED_BEYOND_WINDOW;
  }

  /** Remembers a published batch (beyond the window and 64 more, the oldest is forgotten). */
  record(batch: SentBatch): void {
    this.sent.delete(batch.name);
    this.sent.set(batch.name, batch);
    while (this.sent.size > this.remembered) {
      const oldest = this.sent.keys().next().value;
      if (oldest === undefined) break;
      this.sent.delete(oldest);
    }
  }

  /** Validates an ack payload and matches it to a batch published here. Logs what it ignores. */
  check(payload: Buffer): AckVerdict {
    const verdict = this.match(payload);
    if (!verdict.ok) {
      this.logger.warn({ event: 'ack_ignored', reason: verdict.reason, detail: verdict.detail }, 'acknowledgement ignored');
    }
    return verdict;
  }

  private match(payload: Buffer): AckVerdict {
    const decoded = decodeAck(payload);
    if (!decoded.ok) return { ok: false, reason: 'invalid', detail: `${decoded.rejection.reason}: ${decoded.rejection.detail}` };
    const ack = decoded.value;
    const batch = this.sent.get(ack.batch);
    if (batch === undefined) return { ok: false, reason: 'unknown_batch', detail: `no batch "${ack.batch}" was published by this process` };
    if (ack.up_to !== batch.last) {
      return { ok: false, reason: 'up_to_mismatch', detail: `batch "${ack.batch}" ends at ${batch.last}, the ack says up_to ${ack.up_to}` };
    }
    return { ok: true, batch, ack };
  }
}
