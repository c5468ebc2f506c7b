import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import type { Database } from '../db/index.ts';

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
  /** Rollup refresh transactions per round at most, so a large catch-up never stalls the rest (default 20). */
  maxRefreshesPerRound?: number;
}

/**
 * Turns database changes into live events for the pages, and keeps the chart rollups current.
 *
 * The receiver writes in another process, so the web admin looks rather than listens: each round
 * it refreshes dirty rollup buckets (→ `readings` events, sent once the charts can show the new
 * data) and compares a fingerprint of each device's row, configurations and commands with the
 * last round's (→ `device` and `commands` events). Polling one small query per table a second
 * costs little and needs no channel between receiver and web admin.
 */
export class LiveUpdates {
  private readonly db: Database;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly periodMs: number;
  private readonly maxRefreshes: number;
  private readonly listeners = new Set<LiveListener>();
  private deviceFingerprints: Map<string, string> | undefined;
  private commandFingerprints: Map<string, string> | undefined;
  private running: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private failing = false;

  constructor(options: LiveUpdatesOptions) {
    this.db = options.db;
    this.clock = options.clock;
    this.logger = options.logger;
    this.periodMs = options.periodMs ?? 1000;
    this.maxRefreshes = options.maxRefreshesPerRound ?? 20;
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
    if (this.running !== undefined) return;
    const running = new AbortController();
    this.running = running;
    this.loop = (async () => {
      while (!running.signal.aborted) {
        await this.round();
        await this.clock.sleep(this.periodMs, running.signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running?.abort();
    await this.loop;
    this.running = undefined;
    this.loop = undefined;
  }

  /** One look at the database; never throws (a database outage is logged once and retried next round). */
  async round(): Promise<void> {
    try {
      await this.refreshRollups();
      await this.compareDevices();
      await this.compareCommands();
      if (this.failing) this.logger.info({ event: 'live_updates_recovered' }, 'live updates running again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.logger.warn({ event: 'live_updates_failed', err: error }, 'live updates paused: database unavailable; retrying');
      this.failing = true;
    }
  }

  private async refreshRollups(): Promise<void> {
    const latest = new Map<string, number>();
    for (let i = 0; i < this.maxRefreshes; i++) {
      const result = await this.db.rollups.refresh();
      for (const [deviceId, bucket] of result.devices) latest.set(deviceId, Math.max(latest.get(deviceId) ?? 0, bucket));
      if (result.buckets === 0) break;
    }
    for (const [deviceId, latestMeasuredAt] of latest) this.emit({ type: 'readings', data: { deviceId, latestMeasuredAt } });
  }

  private async compareDevices(): Promise<void> {
    const [devices, configs] = await Promise.all([
      this.db.devices.listDevices(),
      this.db.sql.read((sql) =>
        sql.rows(
          `SELECT device_id, 'd' AS side, version, updated_at AS at FROM desired_configs
           UNION ALL SELECT device_id, 'r' AS side, version, reported_at AS at FROM reported_configs`,
        ),
      ),
    ]);
    const next = new Map<string, string>();
    for (const device of devices) next.set(device.id, JSON.stringify(device));
    for (const row of configs) {
      const id = String(row.device_id);
      next.set(id, `${next.get(id) ?? ''}|${String(row.side)}${String(row.version)}@${String(row.at)}`);
    }
    this.deviceFingerprints = this.emitChanges(this.deviceFingerprints, next, (id) => ({ type: 'device', data: { id } }));
  }

  private async compareCommands(): Promise<void> {
    const rows = await this.db.sql.read((sql) =>
      sql.rows(
        `SELECT device_id, state, COUNT(*) AS n, MAX(created_at) AS created, MAX(answered_at) AS answered, MAX(delivered_at) AS delivered
         FROM commands GROUP BY device_id, state ORDER BY device_id, state`,
      ),
    );
    const next = new Map<string, string>();
    for (const row of rows) {
      const id = String(row.device_id);
      next.set(id, `${next.get(id) ?? ''}|${String(row.state)}:${String(row.n)}:${String(row.created)}:${String(row.answered)}:${String(row.delivered)}`);
    }
    this.commandFingerprints = this.emitChanges(this.commandFingerprints, next, (deviceId) => ({ type: 'commands', data: { deviceId } }));
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
