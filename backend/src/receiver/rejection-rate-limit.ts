import type { Clock } from '@iot/common/clock';
import type { RejectionReason } from '@iot/common/protocol';
import type { NewRejection } from '../db/index.ts';
import { LIMIT_ENV } from './limits.ts';

const MINUTE_MS = 60_000;

/** What the rate limit held back for one device since its last summary. */
interface Held {
  topic: string;
  deviceId: string | undefined;
  count: number;
  from: number;
  to: number;
  reasons: Map<RejectionReason, number>;
}

/** A token bucket: `tokens` rows may be written now; it refills at the per-minute rate. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Rows per device, bounded: each device may cause `perMinute` rejection rows a minute (a token
 * bucket, so a burst of that size passes at once). Rows beyond are not written one by one but
 * counted, and {@link takeSummaries} turns the count into one `rate_limited` row per device, so
 * the record still says how many and why, and a device sending garbage as fast as it can costs
 * one row per sweep instead of one per message.
 */
export class RejectionRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private held = new Map<string, Held>();
  private readonly perMinute: number;
  private readonly clock: Clock;

  constructor(options: { perMinute: number; clock: Clock }) {
    this.perMinute = options.perMinute;
    this.clock = options.clock;
  }

  /** The rows of one message that may be written now; the others are held for the summary. */
  admit(rows: readonly NewRejection[]): NewRejection[] {
    const now = this.clock.now();
    const admitted: NewRejection[] = [];
    for (const row of rows) {
      const key = row.deviceId ?? '';
      const bucket = this.refilled(key, now);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        admitted.push(row);
      } else {
        hold(this.held, key, { topic: row.topic, deviceId: row.deviceId ?? undefined, count: row.count ?? 1, from: now, to: now, reasons: new Map([[row.reason, row.count ?? 1]]) });
      }
    }
    return admitted;
  }

  /** Rejections held back, not yet in a summary row. */
  get heldCount(): number {
    let count = 0;
    for (const held of this.held.values()) count += held.count;
    return count;
  }

  /**
   * One `rate_limited` row per device with rejections held back. They count as written once
   * taken; `putBack` returns them to the tally if writing failed. Buckets that refilled are
   * dropped, so the map holds only devices that rejected something lately.
   */
  takeSummaries(): { rows: NewRejection[]; putBack: () => void } {
    const taken = this.held;
    this.held = new Map();
    const now = this.clock.now();
    for (const key of [...this.buckets.keys()]) if (this.refilled(key, now).tokens >= this.perMinute) this.buckets.delete(key);
    return {
      rows: [...taken.values()].map((held) => summaryRow(held, this.perMinute)),
      putBack: () => {
        for (const [key, held] of taken) hold(this.held, key, held);
      },
    };
  }

  private refilled(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.perMinute, at: now };
      this.buckets.set(key, bucket);
    }
    if (now > bucket.at) {
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) * this.perMinute) / MINUTE_MS);
      bucket.at = now;
    }
    return bucket;
  }
}

function hold(tally: Map<string, Held>, key: string, more: Held): void {
  const held = tally.get(key);
  if (held === undefined) {
    tally.set(key, { ...more, reasons: new Map(more.reasons) });
    return;
  }
  held.count += more.count;
  held.from = Math.min(held.from, more.from);
  held.to = Math.max(held.to, more.to);
  for (const [reason, count] of more.reasons) held.reasons.set(reason, (held.reasons.get(reason) ?? 0) + count);
}

function summaryRow(held: Held, perMinute: number): NewRejection {
  const reasons = [...held.reasons].map(([reason, count]) => `${reason} ${count}`).join(', ');
  const who = held.deviceId === undefined ? 'messages on no device topic' : `device ${held.deviceId}`;
  return {
    topic: held.topic,
    deviceId: held.deviceId,
    reason: 'rate_limited',
    detail:
      `${held.count} rejections of ${who} between ${new Date(held.from).toISOString()} and ${new Date(held.to).toISOString()} are counted here, not recorded ` +
      `one by one: more than ${perMinute} a minute (${LIMIT_ENV.rejectionsPerDevicePerMinute}). By reason: ${reasons}. Such a device is misconfigured or hostile.`,
    payload: Buffer.alloc(0),
    excerpt: '',
    count: held.count,
    receivedAt: held.to,
  };
}
