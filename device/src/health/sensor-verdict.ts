/** The outcome of a healthcheck: the exit code follows `healthy`, the message is what Docker shows. */
export interface Verdict {
  healthy: boolean;
  message: string;
}

/** What the sensor's healthcheck reads from Redis (all times by Redis's own clock). */
export interface SensorObservation {
  /** Chips configured in SENSORS; with none the sensor writes nothing and that is fine. */
  sensors: number;
  /** `measurement:enabled` is not "0". */
  enabled: boolean;
  /** The interval the sensor uses: `measurement:interval`, else INTERVAL_SECONDS. */
  intervalSeconds: number;
  /** Age of the newest stream entry; undefined when the stream is empty. */
  newestEntryAgeMs: number | undefined;
  /** used_memory / maxmemory, 0 when Redis has no limit. */
  memoryFill: number;
}

/** A missed reading or two is normal (a slow bus, a chip re-initialising); three intervals are not. */
const MISSED_INTERVALS = 3;
/** Never less than this, so an interval of 0 s or 2 s does not flag a process paused for a moment. */
const MIN_STALE_MS = 30_000;
/**
 * With noeviction, XADD fails once used_memory reaches maxmemory and the sensor keeps readings in
 * its own buffer until the uplink frees space. The check backs off a little before the limit,
 * because a stream write near it may fail while a probe's read still succeeds.
 */
const FULL_FILL = 0.95;

/** How old the newest entry may be before the sensor counts as stuck. */
export function staleAfterMs(intervalSeconds: number): number {
  return Math.max(MISSED_INTERVALS * intervalSeconds * 1000, MIN_STALE_MS);
}

/**
 * Healthy unless the sensor should be measuring, Redis would take its writes, and still no entry
 * arrived for three intervals. On balenaOS an unhealthy container is restarted, and a restart
 * drops the readings the sensor holds in memory, so every condition a restart cannot fix (Redis
 * full, measuring switched off, no chips) counts as healthy, with a message that says why.
 */
export function judgeSensor(observation: SensorObservation): Verdict {
  const { sensors, enabled, intervalSeconds, newestEntryAgeMs, memoryFill } = observation;
  if (sensors === 0) return { healthy: true, message: 'no sensors configured (SENSORS=none)' };
  if (!enabled) return { healthy: true, message: 'measuring is switched off (measurement:enabled is "0")' };
  if (memoryFill >= FULL_FILL) {
    return { healthy: true, message: `redis is ${Math.round(memoryFill * 100)}% full: readings wait in the sensor's buffer` };
  }
  const limitMs = staleAfterMs(intervalSeconds);
  if (newestEntryAgeMs === undefined) return { healthy: false, message: `no reading in the stream (interval ${intervalSeconds} s)` };
  const ageSeconds = Math.round(newestEntryAgeMs / 1000);
  if (newestEntryAgeMs > limitMs) {
    return { healthy: false, message: `no reading for ${ageSeconds} s (interval ${intervalSeconds} s, limit ${limitMs / 1000} s)` };
  }
  return { healthy: true, message: `last reading ${ageSeconds} s ago (interval ${intervalSeconds} s)` };
}
