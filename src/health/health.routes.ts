import type { FastifyInstance } from 'fastify';
import { MIGRATION_LOCK_HELD_SQL } from '../schema/fleet-lock.ts';

const liveSchema = {
  response: { 200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } },
} as const;

const readySchema = {
  response: {
    '2xx': { $ref: 'readiness#' },
    503: { $ref: 'readiness#' },
  },
} as const;

/** Liveness (the process answers) and readiness (database reachable, schema current). */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.addSchema({
    $id: 'readiness',
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['ready', 'not_ready'] },
      database: { type: 'string', enum: ['up', 'down'] },
      migrating: { type: 'boolean' },
      pendingMigrations: { type: 'array', items: { type: 'string' } },
      redis: { type: 'string', enum: ['ready', 'connecting', 'down'] },
      reason: { type: 'string' },
    },
    required: ['status', 'database', 'migrating', 'pendingMigrations', 'redis'],
  });

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
        .send({ status: 'not_ready', database: 'down', migrating: false, pendingMigrations: [], redis, reason: 'database unreachable' });
    }
    const reason = migrating ? 'migrations are running' : pending.length > 0 ? `pending migrations: ${pending.join(', ')}` : undefined;
    if (reason) {
      return reply.code(503).send({ status: 'not_ready', database: 'up', migrating, pendingMigrations: pending, redis, reason });
    }
    return { status: 'ready', database: 'up', migrating, pendingMigrations: [], redis };
  });
}
