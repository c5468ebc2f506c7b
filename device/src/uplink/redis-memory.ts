import type { Clock } from '@iot/common/clock';
import type { Logger } from '@iot/common/log';
import type { Redis } from 'ioredis';

export interface RedisMemoryState {
  used_memory: number;
  maxmemory: number;
  full: boolean;
}

/** Redis counts as full from this share of maxmemory on: writes are about to fail. */
const FULL_SHARE = 0.95;
/** A write refused with OOM keeps Redis reported as full for this long. */
const OOM_MEMORY_MS = 60_000;

/**
 * Whether the device's Redis is full (docs/delivery-guarantee.md §4: it runs with `noeviction`, so memory
 * pressure makes writes fail instead of evicting unsent readings). Full means used_memory at or
 * above 95 % of maxmemory, or a write of ours refused with OOM recently. Logs `redis_full` when
 * that starts, so an operator sees it before the device's status is read.
 */
export class RedisMemory {
  private oomAt = Number.NEGATIVE_INFINITY;
  private wasFull = false;
  private readonly redis: Redis;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(options: { redis: Redis; clock: Clock; logger: Logger }) {
    this.redis = options.redis;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /** True while the last look said full (or an OOM refusal is recent). */
  get full(): boolean {
    return this.wasFull || this.recentOom();
  }

  /** Call with every failed write; notices OOM refusals. */
  noteWriteError(error: Error): void {
    if (!error.message.startsWith('OOM')) return;
    this.oomAt = this.clock.now();
    this.update(true, { err: { message: error.message } });
  }

  /** Reads INFO memory. Rejects if Redis fails. */
  async read(): Promise<RedisMemoryState> {
    const info = await this.redis.info('memory');
    const used = field(info, 'used_memory');
    const max = field(info, 'maxmemory');
    const full = (max > 0 && used >= max * FULL_SHARE) || this.recentOom();
    this.update(full, { used_memory: used, maxmemory: max });
    return { used_memory: used, maxmemory: max, full };
  }

  private recentOom(): boolean {
    return this.clock.now() - this.oomAt < OOM_MEMORY_MS;
  }

  private update(full: boolean, details: Record<string, unknown>): void {
    if (full && !this.wasFull) {
      this.logger.error(
        { event: 'redis_full', ...details },
        'Redis is full (maxmemory, noeviction): new readings are refused until confirmed ones are trimmed',
      );
    } else if (!full && this.wasFull) {
      this.logger.info({ event: 'redis_not_full', ...details }, 'Redis has room again');
    }
    this.wasFull = full;
  }
}

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info);
  return match === null ? 0 : Number(match[1]);
}
