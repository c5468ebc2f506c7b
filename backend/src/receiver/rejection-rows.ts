import type { Rejection, RejectionReason } from '@iot/common/protocol';
import type { NewRejection } from '../db/index.ts';
import { excerptOf } from './excerpt.ts';
import { EXCERPTS_PER_REJECTION } from './limits.ts';

/** One part of a message that was not stored (a batch entry, an original element, a conflict), with why. */
export interface PartRejection {
  part: unknown;
  rejection: Rejection;
}

/** Where the message came from, for its rows. */
export interface MessageOrigin {
  topic: string;
  deviceId: string | undefined;
  payload: Buffer;
  /** How the message calls its parts in a detail ("entries", "readings", ...). */
  parts: string;
  /** How many parts the message had. */
  total: number;
}

const EXCERPT_CHARS = 300;

/**
 * The rows that record a message's rejected parts: one per reason, however many parts were bad,
 * with their count and the first {@link EXCERPTS_PER_REJECTION} of them as excerpts. A batch of
 * 10 000 bad entries once made 10 000 rows; now it makes one, and still says how many and why.
 */
export function rejectionRows(origin: MessageOrigin, rejected: readonly PartRejection[]): NewRejection[] {
  const byReason = new Map<RejectionReason, PartRejection[]>();
  for (const item of rejected) {
    const group = byReason.get(item.rejection.reason);
    if (group === undefined) byReason.set(item.rejection.reason, [item]);
    else group.push(item);
  }
  return [...byReason].map(([reason, group]) => {
    const examples = group.slice(0, EXCERPTS_PER_REJECTION);
    const detail =
      group.length === 1
        ? examples[0]!.rejection.detail
        : `${group.length} of ${origin.total} ${origin.parts} rejected as ${reason}; the first: ${examples.map((e) => e.rejection.detail).join(' | ')}`;
    return {
      topic: origin.topic,
      deviceId: origin.deviceId,
      reason,
      detail,
      payload: origin.payload,
      excerpt: `[${examples.map((e) => excerptOf(e.part, EXCERPT_CHARS)).join(',')}]`,
      count: group.length,
    };
  });
}
