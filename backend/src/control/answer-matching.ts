/**
 * How an answer without a command id is tied to the command it answers, and what it says about
 * the outcome (docs/original-devices.md §3). The original software answers on `response` at QoS 0
 * with the command's fields echoed and no id (docs/original-system.md §12), so the backend can
 * only compare what the answer echoes with what was sent.
 */

/** The fields of an answer that identify the command: what the original echoes. */
export interface EchoedFields {
  key?: unknown;
  value?: unknown;
}

/**
 * Whether an answer echoing `answer` can be the answer to a command `name` sent with `args`.
 * get_config must echo the key; set_config the key and, when the answer carries one, the value
 * (a v1 device's refusal echoes only the key). Compared as text: the original echoes what it was
 * sent, a number stays a number. reboot has nothing to compare. send_measurements is answered on
 * `values`, never here (matchesResentReadings).
 */
export function answerMatches(name: string, args: Readonly<Record<string, unknown>>, answer: EchoedFields): boolean {
  switch (name.toLowerCase()) {
    case 'get_config':
      return sameText(args.key, answer.key);
    case 'set_config':
      return sameText(args.key, answer.key) && (answer.value === undefined || sameText(args.value, answer.value));
    case 'send_measurements':
      return false;
    default:
      return true;
  }
}

/**
 * What an original-format answer says about the outcome. get_config and set_config answer after
 * the read or write, with its value, so the answer is the outcome. The reboot answer goes out
 * *before* the reboot is attempted (docs/original-system.md §13), so it tells nothing about it:
 * `null`, "received; outcome not reported". Anything else is not understood: never `true`.
 */
export function originalOutcome(name: string, answer: Readonly<Record<string, unknown>>): boolean | null {
  switch (name.toLowerCase()) {
    case 'get_config':
      return 'value' in answer ? true : null;
    case 'set_config':
      return 'value' in answer ? true : null;
    default:
      return null;
  }
}

function sameText(sent: unknown, echoed: unknown): boolean {
  if (sent === undefined || sent === null || echoed === undefined || echoed === null) return false;
  if (typeof echoed === 'object' || typeof sent === 'object') return false;
  return String(sent) === String(echoed);
}

/** A stream id `<ms>-<seq>` as two numbers, or undefined when it is not one. */
function parseStreamId(id: string): [bigint, bigint] | undefined {
  const match = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(id);
  if (match === null) return undefined;
  return [BigInt(match[1]!), match[2] === undefined ? -1n : BigInt(match[2])];
}

function compare(a: [bigint, bigint], b: [bigint, bigint]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

/**
 * Whether stream id `id` lies in an XRANGE range `min`..`max` as Redis reads it: `-`/`+` are open,
 * a bound without a sequence means `<ms>-0` as min and `<ms>-<max>` as max, `(` excludes the bound
 * (docs/protocol.md §7). A bound that is not a stream id matches nothing.
 */
export function streamIdInRange(id: string, min: unknown, max: unknown): boolean {
  const at = parseStreamId(id);
  if (at === undefined) return false;
  return withinBound(at, typeof min === 'string' ? min : '-', 'min') && withinBound(at, typeof max === 'string' ? max : '+', 'max');
}

function withinBound(at: [bigint, bigint], bound: string, side: 'min' | 'max'): boolean {
  if (bound === (side === 'min' ? '-' : '+')) return true;
  const exclusive = bound.startsWith('(');
  const parsed = parseStreamId(exclusive ? bound.slice(1) : bound);
  if (parsed === undefined) return false;
  // Without a sequence, a min bound starts at sequence 0 and a max bound ends after every sequence.
  const edge: [bigint, bigint] = parsed[1] === -1n ? [parsed[0], side === 'min' ? 0n : 2n ** 64n] : parsed;
  const order = compare(at, edge);
  if (side === 'min') return exclusive ? order > 0 : order >= 0;
  return exclusive ? order < 0 : order <= 0;
}

/**
 * Whether a readings message of `streamIds` can be the original's answer to send_measurements
 * with `args`: every reading inside the requested range and no more of them than `count` asked
 * for (the original publishes one XRANGE … COUNT reply as one message, docs/original-system.md §12).
 */
export function matchesResentReadings(args: Readonly<Record<string, unknown>>, streamIds: readonly string[]): boolean {
  if (streamIds.length === 0) return false;
  if (typeof args.count === 'number' && streamIds.length > args.count) return false;
  return streamIds.every((id) => streamIdInRange(id, args.min_id, args.max_id));
}
