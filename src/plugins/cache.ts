import fp from 'fastify-plugin';
import { Cache } from '../cache/cache.ts';
import { CacheInvalidator } from '../cache/cache-invalidator.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Cache-aside reads on Redis: `app.cache.getOrLoad('user', id, () => ...)`. */
    cache: Cache;
  }
}

export interface CachePluginOptions {
  /** CACHE_PREFIX */
  prefix: string;
  /** CACHE_TTL_SECONDS */
  ttlSeconds: number;
}

/**
 * The Redis cache and its invalidation. Never fails startup: with Redis or the schema
 * generation unavailable, reads are served from PostgreSQL until they are back.
 */
export default fp<CachePluginOptions>(
  async (app, { prefix, ttlSeconds }) => {
    const cache = new Cache({ redis: app.redis, prefix, ttlSeconds });
    const connection = app.orm.em.getConnection();
    const invalidator = new CacheInvalidator({
      cache,
      bus: app.events,
      execute: (sql, params) => connection.execute(sql, params),
      log: app.log,
    });
    await invalidator.start();
    app.decorate('cache', cache);
    app.addHook('onClose', () => invalidator.stop());
  },
  { name: 'cache', dependencies: ['orm', 'redis', 'events'] },
);
