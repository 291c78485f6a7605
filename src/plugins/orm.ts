import fp from 'fastify-plugin';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';

declare module 'fastify' {
  interface FastifyInstance {
    orm: MikroORM;
  }
  interface FastifyRequest {
    /** This request's own unit of work, forked from the global EntityManager. */
    em: EntityManager;
  }
}

/** Gives the app the ORM and every request its own EntityManager fork; closes the ORM with the app. */
export default fp<{ orm: MikroORM }>(
  async (app, { orm }) => {
    app.decorate('orm', orm);
    app.decorateRequest('em', null as unknown as EntityManager);
    app.addHook('onRequest', async request => {
      request.em = orm.em.fork();
    });
    app.addHook('onClose', async () => {
      await orm.close();
    });
  },
  { name: 'orm' },
);
