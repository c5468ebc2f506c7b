/**
 * Who a connected client is, and the shape of every policy answer. Kept apart from policy.ts so
 * the rules that policy.ts composes (client ids, topics) can share these types without a cycle.
 */

/** A connected client: a device (rights on its own topics only) or a backend service. */
export type ClientIdentity =
  | { role: 'device'; username: string; deviceId: string }
  /** `username` is undefined for an anonymous client admitted by `allowAnonymous`. */
  | { role: 'service'; username: string | undefined };

export type Decision<R> = { ok: true } | { ok: false; reason: R };
