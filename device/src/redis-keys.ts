/**
 * The device's Redis keys. Defined once in common (protocol/redis-keys.ts), because the backend
 * and the harness name them too; re-exported here so device modules keep their local import.
 */
export { REDIS_KEY, type RedisKey } from '@iot/common/protocol';
