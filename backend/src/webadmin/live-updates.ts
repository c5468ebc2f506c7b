import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { PeriodicTask } from '@iot/common/periodic-task';
import type { FleetIndexRow } from '../db/device-store.ts';
import type { Database, RollupProgress } from '../db/index.ts';

/** What changed, as the browser's EventSource receives it (event name + JSON data). */
export type LiveEvent =
  | { type: 'device'; data: { id: string } }
  | { type: 'readings'; data: { deviceId: string; latestMeasuredAt: number } }
  | { type: 'commands'; data: { deviceId: string } };

export type LiveListener = (event: LiveEvent) => void;

export interface LiveUpdatesOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  /** How often the database is looked at (default 1 s). */
  periodMs?: number;
}

/**
 * Turns database changes into live events for the pages. It only reads: the receiver writes the
 * readings and refreshes the chart rollups (RollupRefresher), in other processes.
 *
 * So the web admin looks rather than listens: each round it compares what the stores report
 * with the last round's — the rollup progress per device (→ `readings`, sent once the charts can
 * show the new data, with the newest minute bucket the refresh touched), and fingerprints of each
 * device's row and configurations (→ `device`, from DeviceStore.fleetIndex) and of its commands
 * (→ `commands`). A few small
 * reads a second cost little and need no channel between the processes.
 */
export class LiveUpdates {
  private readonly db: Database;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly listeners = new Set<LiveListener>();
  private deviceFingerprints: Map<string, string> | undefined;
  private commandFingerprints: Map<string, string> | undefined;
  private rollupProgress: Map<string, RollupProgress> | undefined;
  private readonly task: PeriodicTask;
  private readonly periodMs: number;
  private failing = false;
  /** The devices as the last round read them, and when (see {@link recentFleetIndex}). */
  private index: { rows: FleetIndexRow[]; at: number } | undefined;

  constructor(options: LiveUpdatesOptions) {
    this.db = options.db;
    this.clock = options.clock;
    this.logger = options.logger;
    this.periodMs = options.periodMs ?? 1000;
    this.task = new PeriodicTask({ clock: this.clock, periodMs: this.periodMs, round: () => this.round() });
  }

  /**
   * The fleet index the last round read, while it is at most two periods old; undefined when the
   * rounds are not running (not started, stopped, or failing). The fleet API filters and sorts on
   * it rather than reading every device again per request: it is what the pages' `device` events
   * came from, so a page reloaded on an event sees at least what the event was about.
   */
  recentFleetIndex(): FleetIndexRow[] | undefined {
    if (this.index === undefined || this.clock.now() - this.index.at > 2 * this.periodMs) return undefined;
    return this.index.rows;
  }

  /** Calls `listener` for every event until the returned function is called. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  start(): void {
    this.task.start();
  }

  async stop(): Promise<void> {
    await this.task.stop();
    this.index = undefined;
  }

  /**
   * One look at the database; the first only records what is there. Never throws: a database
   * outage is logged once and retried next round.
   */
  async round(): Promise<void> {
    try {
      await this.compareRollups();
      const devices = await this.deviceRows();
      this.deviceFingerprints = this.emitChanges(this.deviceFingerprints, devices, (id) => ({ type: 'device', data: { id } }));
      const commands = await this.db.changes.commandFingerprints();
      this.commandFingerprints = this.emitChanges(this.commandFingerprints, commands, (deviceId) => ({ type: 'commands', data: { deviceId } }));
      if (this.failing) this.logger.info({ event: 'live_updates_recovered' }, 'live updates running again');
      this.failing = false;
    } catch (error) {
      this.index = undefined;
      if (!this.failing) this.logger.warn({ event: 'live_updates_failed', err: error }, 'live updates paused: database unavailable; retrying');
      this.failing = true;
    }
  }

  /**
   * Per device a fingerprint of what the pages show of it: the narrow columns that change
   * whenever its row does (a status message always moves status_at, readings move last_seen_at
   * or the counters) and the versions of its configurations. The same narrow read as the fleet
   * page's, not the whole rows: at thousands of devices, a second's round stays a few ms.
   */
  private async deviceRows(): Promise<Map<string, string>> {
    const at = this.clock.now();
    const rows = await this.db.devices.fleetIndex();
    this.index = { rows, at };
    return new Map(rows.map((r) => [r.id, `${r.name}|${r.protocol}|${r.online}|${r.lastSeenAt}|${r.statusAt}|${r.readingsStored}|${r.duplicatesAbsorbed}|${r.configVersion}`]));
  }

  private async compareRollups(): Promise<void> {
    const next = await this.db.rollups.progress();
    const previous = this.rollupProgress;
    this.rollupProgress = next;
    if (previous === undefined) return;
    for (const [deviceId, progress] of next) {
      if (previous.get(deviceId)?.generation === progress.generation) continue;
      this.emit({ type: 'readings', data: { deviceId, latestMeasuredAt: progress.latestBucket } });
    }
  }

  /** Emits for every key whose fingerprint differs from the last round's; the first round only records. */
  private emitChanges(previous: Map<string, string> | undefined, next: Map<string, string>, event: (id: string) => LiveEvent): Map<string, string> {
    if (previous !== undefined) {
      for (const [id, fingerprint] of next) if (previous.get(id) !== fingerprint) this.emit(event(id));
    }
    return next;
  }

  private emit(event: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ event: 'live_listener_failed', err: error }, 'a live-update listener threw');
      }
    }
  }
}
