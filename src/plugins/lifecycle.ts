import fp from 'fastify-plugin';
import type { Cache } from '../cache/cache.ts';
import type { AppConfig } from '../config.ts';
import type { EventBus } from '../events/event-bus.ts';
import { SchemaLifecycle } from '../lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../schema/enerlink-migrator.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The schema lifecycle (migrations, verification, runs, seeding), composed once. */
    lifecycle: SchemaLifecycle;
    /** The lifecycle's event bus: migrator, seeder and entity events. */
    events: EventBus;
    /** Cache-aside reads on Redis: `app.cache.getOrLoad('user', id, () => ...)`. */
    cache: Cache;
  }
}

/**
 * The service's schema lifecycle with its cache attached. Never fails startup because of
 * Redis: with Redis or the schema generation unavailable, reads go to PostgreSQL until they are back.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    const lifecycle = await SchemaLifecycle.start({ em: app.orm.em, migrator: migratorOf(app.orm), config, redis: app.redis, log: app.log });
    app.decorate('lifecycle', lifecycle);
    app.decorate('events', lifecycle.events);
    app.decorate('cache', lifecycle.cache!);
    app.addHook('onClose', () => lifecycle.close());
  },
  { name: 'lifecycle', dependencies: ['orm', 'redis'] },
);
