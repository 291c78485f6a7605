import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MIGRATION_LOCK_HELD_SQL } from '../schema/fleet-lock.ts';

const liveSchema = {
  response: { 200: Type.Object({ status: Type.String() }) },
};

const readiness = Type.Object({
  status: Type.Enum(['ready', 'not_ready']),
  database: Type.Enum(['up', 'down']),
  migrating: Type.Boolean(),
  pendingMigrations: Type.Array(Type.String()),
  redis: Type.Enum(['ready', 'connecting', 'down']),
  reason: Type.Optional(Type.String()),
});

const readySchema = {
  response: { '2xx': readiness, 503: readiness },
};

/** Liveness (the process answers) and readiness (database reachable, schema current). */
const healthRoutes: FastifyPluginAsyncTypebox = async app => {
  app.get('/health/live', { schema: liveSchema }, async () => ({ status: 'ok' }));

  // Ready = database reachable, no migration running anywhere in the fleet (the advisory lock
  // is free), nothing pending. Pending migrations are re-read each time, so an instance started
  // with MIGRATIONS_RUN=false becomes ready as soon as an operator applies them.
  app.get('/health/ready', { schema: readySchema }, async (_request, reply) => {
    const redis = app.redisState();
    let pending: string[];
    let migrating: boolean;
    try {
      const [{ held }] = await app.orm.em.getConnection().execute(MIGRATION_LOCK_HELD_SQL);
      migrating = held;
      pending = (await app.orm.migrator.getPending()).map(m => m.name);
    } catch (error) {
      app.log.warn({ err: (error as Error).message }, 'readiness: database unreachable');
      return reply
        .code(503)
        .send({ status: 'not_ready' as const, database: 'down' as const, migrating: false, pendingMigrations: [], redis, reason: 'database unreachable' });
    }
    const reason = migrating ? 'migrations are running' : pending.length > 0 ? `pending migrations: ${pending.join(', ')}` : undefined;
    if (reason) {
      return reply.code(503).send({ status: 'not_ready' as const, database: 'up' as const, migrating, pendingMigrations: pending, redis, reason });
    }
    return { status: 'ready' as const, database: 'up' as const, migrating, pendingMigrations: [], redis };
  });
};

export default healthRoutes;
