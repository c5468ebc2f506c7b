import type { NewReading, ShutdownMarker } from '../db/index.ts';
import type { IngestStore } from './ingest-store.ts';
import { LIMIT_ENV, type ReceiverLimits } from './limits.ts';
import type { PartRejection } from './rejection-rows.ts';

const HOUR_MS = 3_600_000;
/** Devices whose known metrics and boots are cached; the least recently seen are forgotten first. */
const CACHED_DEVICES = 4096;
/** Boots remembered per device: a device sends from its current boot, and its last ones while it drains. */
const CACHED_BOOTS = 16;

interface Known {
  metrics: Set<string> | undefined;
  boots: string[];
}

export interface Admitted {
  readings: NewReading[];
  shutdowns: ShutdownMarker[];
  rejected: PartRejection[];
}

/**
 * The limits that need the database (limits.ts): new boots per device per hour, and distinct
 * metrics per device. What a device sent before is cached, so a device sending from a boot and
 * with metrics it used before costs no query; only something new is looked up, and only then is
 * the limit checked. Several receivers may each admit a little past a limit at the same moment;
 * the bound still holds within a batch's worth.
 */
export class DeviceLimits {
  private readonly known = new Map<string, Known>();
  private readonly limits: Pick<ReceiverLimits, 'maxMetricsPerDevice' | 'maxNewBootsPerHour'>;
  private readonly store: IngestStore;

  constructor(limits: Pick<ReceiverLimits, 'maxMetricsPerDevice' | 'maxNewBootsPerHour'>, store: IngestStore) {
    this.limits = limits;
    this.store = store;
  }

  /** Splits what may be stored from what goes over a limit. Throws what the database throws. */
  async admit(deviceId: string, readings: readonly NewReading[], shutdowns: readonly ShutdownMarker[], now: number): Promise<Admitted> {
    const known = this.entry(deviceId);
    const rejected: PartRejection[] = [];
    const { refused: refusedBoots, recent } = await this.refusedBoots(deviceId, known, [...readings.map((r) => r.bootId), ...shutdowns.map((s) => s.bootId)], now);
    const bootDetail = (bootId: string) =>
      `boot ${bootId}: device ${deviceId} has started ${recent} new boots within the last hour, at most ${this.limits.maxNewBootsPerHour} (${LIMIT_ENV.maxNewBootsPerHour}); ` +
      'readings of further boots are refused until the hour has passed. A device that reboots this often is crash-looping or forging boot ids';
    const keptShutdowns = shutdowns.filter((marker) => {
      if (!refusedBoots.has(marker.bootId)) return true;
      rejected.push({ part: marker, rejection: { reason: 'limit_exceeded', detail: bootDetail(marker.bootId) } });
      return false;
    });
    const byBoot = readings.filter((reading) => {
      if (reading.bootId === null || !refusedBoots.has(reading.bootId)) return true;
      rejected.push({ part: reading, rejection: { reason: 'limit_exceeded', detail: bootDetail(reading.bootId) } });
      return false;
    });
    const kept = await this.withinMetricLimit(deviceId, known, byBoot, now, rejected);
    return { readings: kept, shutdowns: keptShutdowns, rejected };
  }

  /** The boots new to the backend beyond the hour's allowance, and how many it allowed already. */
  private async refusedBoots(deviceId: string, known: Known, bootIds: readonly (string | null)[], now: number): Promise<{ refused: Set<string>; recent: number }> {
    const unknown = [...new Set(bootIds.filter((b): b is string => b !== null && !known.boots.includes(b)))];
    if (unknown.length === 0) return { refused: new Set(), recent: 0 };
    const stored = new Set(await this.store.knownBoots(deviceId, unknown));
    const fresh = unknown.filter((b) => !stored.has(b));
    const recent = fresh.length === 0 ? 0 : await this.store.bootsSeenSince(deviceId, now - HOUR_MS);
    const allowed = Math.max(0, this.limits.maxNewBootsPerHour - recent);
    remember(known.boots, [...stored, ...fresh.slice(0, allowed)]);
    return { refused: new Set(fresh.slice(allowed)), recent: recent + Math.min(allowed, fresh.length) };
  }

  private async withinMetricLimit(deviceId: string, known: Known, readings: NewReading[], now: number, rejected: PartRejection[]): Promise<NewReading[]> {
    const names = new Set(readings.flatMap((r) => Object.keys(r.values)));
    if (known.metrics === undefined || [...names].some((n) => !known.metrics!.has(n))) known.metrics = new Set(await this.store.deviceMetrics(deviceId));
    const metrics = known.metrics;
    const added: string[] = [];
    const kept = readings.filter((reading) => {
      const fresh = Object.keys(reading.values).filter((n) => !metrics.has(n));
      if (metrics.size + fresh.length <= this.limits.maxMetricsPerDevice) {
        for (const name of fresh) metrics.add(name);
        added.push(...fresh);
        return true;
      }
      const shown = fresh.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
      rejected.push({
        part: reading,
        rejection: {
          reason: 'limit_exceeded',
          detail:
            `reading ${reading.streamId}: device ${deviceId} has ${metrics.size} distinct metrics, at most ${this.limits.maxMetricsPerDevice} (${LIMIT_ENV.maxMetricsPerDevice}); ` +
            `new metric ${shown}${fresh.length > 5 ? ` and ${fresh.length - 5} more` : ''} refused. Check the device's sensor names, or raise the limit`,
        },
      });
      return false;
    });
    if (added.length > 0) {
      try {
        await this.store.addDeviceMetrics(deviceId, added, now);
      } catch (error) {
        known.metrics = undefined;
        throw error;
      }
    }
    return kept;
  }

  private entry(deviceId: string): Known {
    const found = this.known.get(deviceId);
    if (found !== undefined) {
      // Map order is insertion order: re-inserting makes it the most recently seen.
      this.known.delete(deviceId);
      this.known.set(deviceId, found);
      return found;
    }
    const fresh: Known = { metrics: undefined, boots: [] };
    this.known.set(deviceId, fresh);
    if (this.known.size > CACHED_DEVICES) this.known.delete(this.known.keys().next().value!);
    return fresh;
  }
}

function remember(boots: string[], more: readonly string[]): void {
  for (const boot of more) if (!boots.includes(boot)) boots.push(boot);
  if (boots.length > CACHED_BOOTS) boots.splice(0, boots.length - CACHED_BOOTS);
}
