import type { Logger } from '@iot/common/log';
import { Redis } from 'ioredis';
import type { RedisConfig } from './device-config.ts';

/**
 * A Redis connection for device services. Commands fail fast while Redis is unreachable (no
 * offline queue, no silent resend after reconnect): each service keeps its own bounded, ordered
 * buffer and retries, so what happens to a command is always the service's decision. The client
 * connects in the background and reconnects forever with capped backoff, so services start and
 * keep running (and buffering) while Redis is down: an outage never crash-loops a service.
 */
export function createRedisConnection(config: RedisConfig, logger: Logger): Redis {
  const redis = new Redis({
    host: config.REDIS_HOST,
    port: config.REDIS_PORT,
    db: config.REDIS_DB,
    protocol: 2,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
  });
  let up = false;
  let lastError = '';
  redis.on('ready', () => {
    up = true;
    lastError = '';
    logger.info({ event: 'redis_up', host: config.REDIS_HOST, port: config.REDIS_PORT }, 'connected to Redis');
  });
  redis.on('error', (error: Error) => {
    // Log each distinct failure once, not on every reconnect attempt.
    if (error.message === lastError) return;
    lastError = error.message;
    logger.warn({ event: 'redis_error', err: error }, 'Redis connection problem');
  });
  redis.on('close', () => {
    if (!up) return;
    up = false;
    logger.warn({ event: 'redis_down', host: config.REDIS_HOST, port: config.REDIS_PORT }, 'lost connection to Redis; retrying');
  });
  return redis;
}

/** Closes politely when Redis is reachable, and at once when it is not. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
