import fp from 'fastify-plugin';
import { migratorOf } from '../db/orm.ts';
import { EntityChangeSubscriber } from '../events/entity-change-subscriber.ts';
import { EventBus } from '../events/event-bus.ts';
import { publishMigratorEvents } from '../events/migrator-events.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's event bus: migrator, seeder and entity events. */
    events: EventBus;
  }
}

/**
 * Gives the app its event bus and connects the sources: the migrator (schema changes) and
 * MikroORM (changes of cached entities, after commit).
 */
export default fp(
  async app => {
    const events = new EventBus();
    // subscribers cannot be removed from MikroORM's EventManager; this one lives as long as the ORM
    app.orm.em.getEventManager().registerSubscriber(new EntityChangeSubscriber(events));
    const stopMigratorEvents = publishMigratorEvents(migratorOf(app.orm), events);
    app.decorate('events', events);
    app.addHook('onClose', async () => {
      stopMigratorEvents();
    });
  },
  { name: 'events', dependencies: ['orm'] },
);
