import { Cache } from '../cache/cache.ts';
import { CacheInvalidator } from '../cache/cache-invalidator.ts';
import type { AppConfig } from '../config.ts';
import { createRedis } from '../db/redis.ts';
import { EventBus } from '../events/event-bus.ts';
import { publishMigratorEvents } from '../events/migrator-events.ts';
import type { EnerlinkMigrator } from '../schema/enerlink-migrator.ts';
import type { QueryRunner } from '../schema/schema-fingerprint.ts';

/**
 * Runs a migration command outside the service (`npx mikro-orm migration:*`, `db:reset`) with
 * the cache told, as the service's own migrations do: each schema change records its purge
 * in the outbox, in its transaction, and is announced over Redis to the running instances,
 * which switch generation and carry the purge out. Redis being down does not stop the command.
 */
export async function withCacheAnnouncements<T>(
  migrator: EnerlinkMigrator,
  execute: QueryRunner,
  config: AppConfig,
  work: () => Promise<T>,
): Promise<T> {
  const redis = createRedis(config);
  redis.on('error', () => {}); // reported once, by the warning below, if a change could not be announced
  await redis.connect().catch(() => {});
  const bus = new EventBus();
  const stopMigratorEvents = publishMigratorEvents(migrator, bus);
  const invalidator = new CacheInvalidator({
    cache: new Cache({ redis, prefix: config.cachePrefix, ttlSeconds: config.cacheTtlSeconds }),
    bus,
    execute,
    log: { info: () => {}, warn: (_details, message) => process.stderr.write(`enerlink: ${message}\n`) },
    listen: false,
  });
  await invalidator.start();
  try {
    return await work();
  } finally {
    await invalidator.stop();
    stopMigratorEvents();
    redis.disconnect();
  }
}
