import fp from 'fastify-plugin';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';

declare module 'fastify' {
  interface FastifyInstance {
    orm: MikroORM;
  }
  interface FastifyRequest {
    /** This request's own unit of work, forked from the global EntityManager on first use. */
    em: EntityManager;
    /** The fork behind `em`, once made. */
    emFork: EntityManager | null;
  }
}

/**
 * Gives the app the ORM and every request its own EntityManager fork; closes the ORM with the app.
 * The fork is made when the request first touches `request.em`, not for every request: a read
 * served from the cache never needs one (a fork is an identity map and a unit of work to build).
 */
export default fp<{ orm: MikroORM }>(
  async (app, { orm }) => {
    app.decorate('orm', orm);
    app.decorateRequest('emFork', null);
    app.decorateRequest('em', {
      getter(this: { emFork: EntityManager | null }) {
        return (this.emFork ??= orm.em.fork());
      },
    });
    app.addHook('onClose', async () => {
      await orm.close();
    });
  },
  { name: 'orm' },
);
