import type { ReadingIdentity } from './identity.ts';
import type { OriginalReading } from './messages.ts';
import { type Decoded, decoded, rejected } from './rejection.ts';
import type { StreamShutdown } from './stream.ts';
import { MAX_EPOCH_MS } from './epoch.ts';
import { bootIdField, FIELD, integerField, type SensorValue, type SplitFields, splitFields, timeField } from './stream-fields.ts';
import { streamIdMs } from './stream-id.ts';

/**
 * One element of the original system's readings format (the `values` topic; docs/protocol.md §9,
 * "Original readings"): `_id` (the stream id), who the device is, then the stream entry's fields
 * as strings. Original devices publish it as they always did; ours publish it for
 * send_measurements, and then the identity and marker fields travel along, so the backend
 * recognises readings it already has from v1 batches. The fields follow the stream grammar
 * (stream-fields.ts), with the original's freedoms: any sensor name, no identity needed, and
 * values that are text when they are not numbers.
 */

export { MAX_TEXT_VALUE_CHARS, type SensorValue } from './stream-fields.ts';

/** Who the device is, as the original stamped it on every reading (BALENA_* variables, docs/original-system.md §11). */
export interface OriginalStamp {
  deviceId: string;
  deviceType?: string | undefined;
  appId?: string | undefined;
  appName?: string | undefined;
}

/** A reading in the original format: identity only if the element carries one (the original's never do). */
export interface OriginalStreamReading {
  kind: 'reading';
  identity: ReadingIdentity | null;
  measuredAt: number;
  /** A number where the string is one (strict grammar), else the string itself. */
  values: Record<string, SensorValue>;
}

export type OriginalRecord = OriginalStreamReading | StreamShutdown;

/** One stream entry (XRANGE's id and flat field list) as an original-format element. */
export function encodeOriginalReading(streamId: string, flat: readonly string[], stamp: OriginalStamp): OriginalReading {
  const reading: OriginalReading = { _id: streamId, _device_uuid: stamp.deviceId };
  if (stamp.deviceType !== undefined) reading._device_type = stamp.deviceType;
  if (stamp.appId !== undefined) reading._app_id = stamp.appId;
  if (stamp.appName !== undefined) reading._app_name = stamp.appName;
  const stamped = new Set(Object.keys(reading));
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    // A stream field never overrides where or whom the reading came from.
    if (!stamped.has(name)) reading[name] = flat[i + 1]!;
  }
  return reading;
}

/**
 * Reads an element (already checked against messages.ts originalReading). Without `_measured_at`
 * a reading is dated by its stream id, Redis' clock when it was added; identity fields, when
 * present, must be valid, since a half identity would store the reading under the wrong key.
 */
export function decodeOriginalReading(element: OriginalReading): Decoded<OriginalRecord> {
  const flat: string[] = [];
  for (const [name, value] of Object.entries(element)) if (value !== undefined) flat.push(name, value);
  const split = splitFields(flat, true);
  const result = split.ok ? assemble(element._id, split.value) : split;
  return result.ok ? result : rejected(result.rejection.reason, `entry ${element._id}: ${result.rejection.detail}`);
}

function assemble(streamId: string, split: SplitFields): Decoded<OriginalRecord> {
  const { event, values } = split;
  const at = split.measuredAt === undefined ? dateOf(streamId) : timeField(FIELD.measuredAt, split.measuredAt);
  if (!at.ok) return at;
  if (event !== undefined) {
    if (event !== 'shutdown') return rejected('wrong_shape', `unknown event ${JSON.stringify(event)}`);
    const bootId = bootIdField(split.bootId);
    if (!bootId.ok) return bootId;
    const seq = integerField(FIELD.seq, split.seq, 0);
    if (!seq.ok) return seq;
    if (values !== undefined) return rejected('wrong_shape', `a shutdown marker carries no sensor values (got ${Object.keys(values).join(', ')})`);
    return decoded({ kind: 'shutdown', bootId: bootId.value, lastSeq: seq.value, at: at.value });
  }
  const identity = identityOf(split);
  if (!identity.ok) return identity;
  if (values === undefined) return rejected('wrong_shape', 'no sensor values');
  return decoded({ kind: 'reading', identity: identity.value, measuredAt: at.value, values });
}

function identityOf(split: SplitFields): Decoded<ReadingIdentity | null> {
  if (split.bootId === undefined && split.seq === undefined) return decoded(null);
  const bootId = bootIdField(split.bootId);
  if (!bootId.ok) return bootId;
  const seq = integerField(FIELD.seq, split.seq, 1);
  return seq.ok ? decoded({ bootId: bootId.value, seq: seq.value }) : seq;
}

function dateOf(streamId: string): Decoded<number> {
  const ms = streamIdMs(streamId);
  if (ms === undefined || ms > MAX_EPOCH_MS) {
    return rejected('out_of_range', `no ${FIELD.measuredAt}, and the stream id's time is later than any date can be (at most ${MAX_EPOCH_MS} ms), so it cannot date the reading`);
  }
  return decoded(ms);
}
