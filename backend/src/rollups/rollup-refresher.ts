import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import { PeriodicTask } from '@iot/common/periodic-task';
import { type LeaseState, LeaseLostError, type LeaseStore, REFRESH_CHUNK, ROLLUP_LEASE, type RollupStore } from '../db/index.ts';

export interface RollupRefresherOptions {
  rollups: Pick<RollupStore, 'refresh'>;
  leases: Pick<LeaseStore, 'tryAcquire' | 'release'>;
  clock: Clock;
  logger: Logger;
  /** This instance's name in the lease; unique per process by default (host, pid, random). */
  owner?: string;
  /** Pause between rounds (default 1 s). */
  periodMs?: number;
  /**
   * How long the lease lasts without renewal (default 15 s): how long rollups may stand still
   * after the holder died before another instance takes over. Renewed by every refresh.
   */
  leaseMs?: number;
  /** Refresh transactions per round at most, so a large catch-up still lets the lease and logs breathe (default 20). */
  maxRefreshesPerRound?: number;
}

/** What one round did. */
export interface RefreshRound {
  /** Whether this instance holds the lease after the round. */
  holding: boolean;
  /** Minute buckets recomputed. */
  buckets: number;
}

/** A lease owner name unique to this process. */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`.slice(-128);
}

/**
 * Keeps the chart rollups current: the one owner of the refresh in the backend, run by every
 * receiver process. Batches only mark minute buckets dirty (in their own transaction); this
 * recomputes them, so rollups catch up whether or not any web admin runs.
 *
 * When several receivers share a database, the lease {@link ROLLUP_LEASE} decides which one
 * refreshes; the others stay on standby, looking once a round whether it expired. The holder
 * renews it inside every refresh transaction (RollupStore.refresh with a fence), so an instance
 * that lost the lease — it stalled past the expiry and another took over — has its refresh
 * rolled back instead of racing the new holder. On a clean stop it releases the lease, so
 * another receiver takes over at once rather than after the expiry.
 *
 * Database failures are logged as warnings (once, until it works again): the receiver's own
 * health reports the outage, and the next round simply tries again.
 */
export class RollupRefresher {
  readonly owner: string;
  private readonly rollups: Pick<RollupStore, 'refresh'>;
  private readonly leases: Pick<LeaseStore, 'tryAcquire' | 'release'>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly leaseMs: number;
  private readonly maxRefreshes: number;
  private held = false;
  /** The holder last logged while on standby, so standby is logged once per holder. */
  private standbyFor: string | undefined;
  private failing = false;
  private readonly task: PeriodicTask;

  constructor(options: RollupRefresherOptions) {
    this.rollups = options.rollups;
    this.leases = options.leases;
    this.clock = options.clock;
    this.logger = options.logger;
    this.owner = options.owner ?? defaultOwner();
    const round = async () => {
      await this.round();
    };
    this.task = new PeriodicTask({ clock: this.clock, periodMs: options.periodMs ?? 1000, round });
    this.leaseMs = options.leaseMs ?? 15_000;
    this.maxRefreshes = options.maxRefreshesPerRound ?? 20;
  }

  /** Whether this instance believes it holds the lease (the database has the last word at each refresh). */
  get holding(): boolean {
    return this.held;
  }

  start(): void {
    this.task.start();
  }

  /** Ends the loop after the round in progress, then releases the lease if held. */
  async stop(): Promise<void> {
    await this.task.stop();
    if (!this.held) return;
    this.held = false;
    try {
      await this.leases.release(ROLLUP_LEASE, this.owner);
      this.logger.info({ event: 'rollup_lease_released', owner: this.owner }, 'rollup lease released');
    } catch (error) {
      // It expires by itself; another instance takes over then.
      this.logger.warn({ event: 'rollup_lease_release_failed', owner: this.owner, err: error }, 'could not release the rollup lease; it expires by itself');
    }
  }

  /** Takes or keeps the lease, and if held refreshes dirty buckets; never throws. */
  async round(): Promise<RefreshRound> {
    let buckets = 0;
    try {
      if (!this.held && !(await this.acquire())) {
        this.succeeded();
        return { holding: false, buckets };
      }
      const devices = new Set<string>();
      for (let i = 0; i < this.maxRefreshes; i++) {
        const result = await this.rollups.refresh({ owner: this.owner, until: this.clock.now() + this.leaseMs });
        buckets += result.buckets;
        for (const deviceId of result.devices.keys()) devices.add(deviceId);
        // A short chunk means no marks were left when it ran.
        if (result.buckets < REFRESH_CHUNK) break;
      }
      if (buckets > 0) this.logger.debug({ event: 'rollups_refreshed', buckets, devices: devices.size }, 'rollups refreshed');
      this.succeeded();
      return { holding: true, buckets };
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.held = false;
        this.logger.warn({ event: 'rollup_lease_lost', owner: this.owner }, 'rollup lease taken over by another instance; standing by');
        return { holding: false, buckets };
      }
      if (!this.failing) this.logger.warn({ event: 'rollup_refresh_failed', owner: this.owner, err: error }, 'rollup refresh failed; retrying every round');
      this.failing = true;
      return { holding: this.held, buckets };
    }
  }

  /** @returns whether the lease is now ours. */
  private async acquire(): Promise<boolean> {
    const attempt = await this.leases.tryAcquire(ROLLUP_LEASE, this.owner, this.clock.now(), this.leaseMs);
    if (!attempt.acquired) {
      this.standingBy(attempt.lease);
      return false;
    }
    this.held = true;
    this.standbyFor = undefined;
    this.logger.info(
      { event: 'rollup_lease_acquired', owner: this.owner, lease_ms: this.leaseMs, took_over_from: attempt.tookOverFrom },
      attempt.tookOverFrom === null ? 'refreshing rollups' : 'took over refreshing rollups after the previous holder’s lease expired',
    );
    return true;
  }

  private standingBy(lease: LeaseState): void {
    if (this.standbyFor === lease.owner) return;
    this.standbyFor = lease.owner;
    this.logger.info({ event: 'rollup_lease_standby', owner: this.owner, holder: lease.owner, expires_at: lease.expiresAt }, 'another instance refreshes rollups; standing by');
  }

  private succeeded(): void {
    if (this.failing) this.logger.info({ event: 'rollup_refresh_recovered', owner: this.owner }, 'rollup refresh working again');
    this.failing = false;
  }
}
