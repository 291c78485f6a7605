import type { FastifyInstance } from 'fastify';

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
      pendingMigrations: { type: 'array', items: { type: 'string' } },
      redis: { type: 'string', enum: ['ready', 'connecting', 'down'] },
      reason: { type: 'string' },
    },
    required: ['status', 'database', 'pendingMigrations', 'redis'],
  });

  app.get('/health/live', { schema: liveSchema }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { schema: readySchema }, async (_request, reply) => {
    const redis = app.redisState();
    let pending: string[];
    try {
      await app.orm.em.getConnection().execute('select 1');
      pending = (await app.orm.migrator.getPending()).map(m => m.name);
    } catch (error) {
      app.log.warn({ err: (error as Error).message }, 'readiness: database unreachable');
      return reply.code(503).send({ status: 'not_ready', database: 'down', pendingMigrations: [], redis, reason: 'database unreachable' });
    }
    if (pending.length > 0) {
      return reply
        .code(503)
        .send({ status: 'not_ready', database: 'up', pendingMigrations: pending, redis, reason: `pending migrations: ${pending.join(', ')}` });
    }
    return { status: 'ready', database: 'up', pendingMigrations: [], redis };
  });
}
