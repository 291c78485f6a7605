import { Redis } from 'ioredis';
import type { AppConfig } from '../config.ts';

/**
 * A Redis client that never holds a request hostage: commands fail fast while Redis is down
 * (no offline queue, one retry), fail after REDIS_COMMAND_TIMEOUT_MS when Redis is up but not
 * answering (a stopped or overloaded server keeps the socket open), and the client keeps
 * reconnecting in the background.
 */
export function createRedis(config: AppConfig): Redis {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: config.redisCommandTimeoutMs,
    retryStrategy: attempt => Math.min(attempt * 200, 5000),
  });
  // The redis plugin reports outages once; until it is attached (and in scripts that never
  // attach it) a listener keeps ioredis from printing every failed reconnect.
  redis.on('error', () => {});
  return redis;
}
