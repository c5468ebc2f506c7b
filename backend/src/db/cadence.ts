/**
 * What the spacing of a device's readings in measured time tells when the device reports neither
 * its interval nor sequence numbers (the original software, docs/original-devices.md §4): its
 * measuring interval, and the spacings too long for it, which are suspected gaps.
 */

/** The original uplink sends every second by default (docs/original-system.md §5): a reading may wait that long on the device. */
export const ORIGINAL_SEND_INTERVAL_MS = 1000;

/**
 * A spacing at least this many local intervals long is a suspected gap, unless the caller asks
 * otherwise. One lost reading makes a spacing of two intervals, so the default stays below 2;
 * the jitter of a sensor loop (its read time on top of the interval) stays far below 1.5.
 */
export const DEFAULT_GAP_FACTOR = 1.5;

/** Spacings on each side of the one judged that make its local interval. */
export const LOCAL_WINDOW = 10;

/** A spacing of measured time too long for the interval around it. */
export interface SuspectedGap {
  /** Measured time (device clock, ms) of the last reading before the gap and of the first after it. */
  from: number;
  to: number;
  durationMs: number;
  /** The local interval: the mean of the ordinary spacings around the gap, ms. */
  intervalMs: number;
  /** Readings that would have fitted in at that interval: duration / interval − 1, rounded. */
  estimatedMissing: number;
}

/** The lower median: robust to a minority of outliers (a gap, a clock step) among the values. */
export function lowerMedian(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

/** The largest |epoch ms| a Date can hold: a reading beyond it has no usable time (docs/protocol.md §10). */
export const MAX_TIME_MS = 8.64e15;

/** Whether a stored measured time can be used to judge spacings (garbage a database can hold cannot). */
export function isUsableTime(ms: number): boolean {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS;
}

/** A reading's measured time; `judged`: whether the spacing that ends at it is for this call to judge (the others are context). */
export interface TimePoint {
  at: number;
  judged: boolean;
}

interface Spacing {
  from: number;
  to: number;
  ms: number;
  judged: boolean;
}

/** Positive differences between consecutive times in ascending order; readings of the same millisecond add none. */
function spacings(ascending: readonly TimePoint[]): Spacing[] {
  const result: Spacing[] = [];
  for (let i = 1; i < ascending.length; i++) {
    const from = (ascending[i - 1] as TimePoint).at;
    const to = ascending[i] as TimePoint;
    if (to.at > from) result.push({ from, to: to.at, ms: to.at - from, judged: to.judged });
  }
  return result;
}

/**
 * The measuring interval of readings measured at `times` (any order): the median spacing of
 * consecutive ones, ms; null with fewer than two distinct times.
 */
export function medianInterval(times: readonly number[]): number | null {
  const points = [...times].sort((a, b) => a - b).map((at) => ({ at, judged: true }));
  return lowerMedian(spacings(points).map((s) => s.ms));
}

/**
 * The judged spacings of `ascending` (measured times, oldest first) at least `factor` times
 * their local interval, oldest first. The local interval is a rolling median: the larger of the
 * median of the spacing with the {@link LOCAL_WINDOW} before it and the median of the spacing
 * with the {@link LOCAL_WINDOW} after it. A spacing must be long for the cadence on both sides of
 * it, so a change of interval (set_config of `measurement:interval`) is never a gap: the first
 * spacing at the new interval has only new spacings after it, the last one at the old interval only
 * old ones before it. A lone gap cannot raise either median once it has one ordinary spacing on
 * each side, so the newest gap is found as soon as one reading follows the reading that ended it.
 */
export function findSuspectedGaps(ascending: readonly TimePoint[], factor = DEFAULT_GAP_FACTOR, window = LOCAL_WINDOW): SuspectedGap[] {
  const steps = spacings(ascending);
  const gaps: SuspectedGap[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as Spacing;
    if (!step.judged) continue;
    const before = lowerMedian(steps.slice(Math.max(0, i - window), i + 1).map((s) => s.ms)) as number;
    const after = lowerMedian(steps.slice(i, i + window + 1).map((s) => s.ms)) as number;
    const local = Math.max(before, after);
    if (step.ms < factor * local) continue;
    // The count is estimated with the mean of the ordinary spacings around (within the factor of
    // the median): a median is one sample, and its jitter would multiply over a long gap.
    const ordinary = steps.slice(Math.max(0, i - window), i + window + 1).filter((s) => s.ms < factor * local && s.ms * factor > local);
    const intervalMs = ordinary.length === 0 ? local : ordinary.reduce((sum, s) => sum + s.ms, 0) / ordinary.length;
    gaps.push({ from: step.from, to: step.to, durationMs: step.ms, intervalMs, estimatedMissing: Math.max(0, Math.round(step.ms / intervalMs) - 1) });
  }
  return gaps;
}

/** How a device's presence was judged. */
export interface DevicePresence {
  state: 'online' | 'offline' | 'stale' | 'unknown';
  /**
   * `status`: the device's own status message (protocol v1, docs/protocol.md §6). `inferred`: the
   * original software publishes no status and no Last Will, so presence is inferred from when it
   * was last seen and the interval of its readings (docs/original-devices.md §4).
   */
  basis: 'status' | 'inferred';
  /** Inferred only: the measuring interval inferred from its newest readings, ms; null when too few. */
  intervalMs: number | null;
  /** Inferred only: how long after its last message a device still counts as online, ms. */
  onlineWithinMs: number | null;
  /** Backend time since the device was last heard from, ms. */
  silentForMs: number;
}

/** Intervals of silence (plus the send interval) after which an original device is no longer online. */
export const ONLINE_INTERVALS = 3;

/**
 * Presence inferred for a device without status messages: online while it was heard from within
 * {@link ONLINE_INTERVALS} measuring intervals plus the original's send interval, stale after
 * that, unknown while its interval cannot be inferred. Never offline: a device that stopped
 * measuring sends nothing either, and looks the same as one that is gone.
 */
export function inferPresence(lastSeenAt: number, intervalMs: number | null, now: number): DevicePresence {
  const silentForMs = Math.max(0, now - lastSeenAt);
  if (intervalMs === null) return { state: 'unknown', basis: 'inferred', intervalMs, onlineWithinMs: null, silentForMs };
  const onlineWithinMs = ONLINE_INTERVALS * intervalMs + ORIGINAL_SEND_INTERVAL_MS;
  return { state: silentForMs <= onlineWithinMs ? 'online' : 'stale', basis: 'inferred', intervalMs, onlineWithinMs, silentForMs };
}

/** Presence from a v1 status message: online or offline as the device (or its Last Will) said, unknown before the first. */
export function statusPresence(online: boolean | null, lastSeenAt: number, now: number): DevicePresence {
  const state = online === null ? 'unknown' : online ? 'online' : 'offline';
  return { state, basis: 'status', intervalMs: null, onlineWithinMs: null, silentForMs: Math.max(0, now - lastSeenAt) };
}
