import type { FastifyInstance } from 'fastify';
import { describeHolder, readHolder } from '../schema/fleet-lock.ts';

const liveSchema = {
  response: { 200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } },
} as const;

const readySchema = {
  response: {
    '2xx': { $ref: 'readiness#' },
    503: { $ref: 'readiness#' },
  },
} as const;

/** Liveness (the process answers) and readiness (database reachable, this release's schema applied). */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.addSchema({
    $id: 'readiness',
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['ready', 'not_ready'] },
      database: { type: 'string', enum: ['up', 'down'] },
      migrating: { type: 'boolean', description: 'Whether a migration run holds the fleet lock anywhere (it does not make this instance unready)' },
      migration: { type: 'string', description: 'Who holds the fleet lock and what it runs, while `migrating`' },
      pendingMigrations: { type: 'array', items: { type: 'string' }, description: "This release's migrations not applied yet" },
      unknownMigrations: { type: 'array', items: { type: 'string' }, description: 'Applied migrations this release does not know (a newer release applied them)' },
      redis: { type: 'string', enum: ['ready', 'connecting', 'down'] },
      reason: { type: 'string' },
    },
    required: ['status', 'database', 'migrating', 'pendingMigrations', 'unknownMigrations', 'redis'],
  });

  app.get('/health/live', { schema: liveSchema }, async () => ({ status: 'ok' }));

  // Ready = the database answers and every migration this release knows is applied. A run
  // elsewhere in the fleet (the CLI, another instance, the admin API, a newer release) leaves
  // it ready: a rolling deploy must never take every instance out of the load balancer.
  // Migrations a newer release applied are reported, not held against it. Pending ones are
  // re-read each time, so an instance started with MIGRATIONS_RUN=false becomes ready as soon
  // as an operator applies them.
  app.get('/health/ready', { schema: readySchema }, async (_request, reply) => {
    const redis = app.redisState();
    const connection = app.orm.em.getConnection();
    let status: Awaited<ReturnType<typeof app.lifecycle.status>>;
    let holder: Awaited<ReturnType<typeof readHolder>>;
    try {
      [status, holder] = await Promise.all([app.lifecycle.status(), readHolder(sql => connection.execute(sql))]);
    } catch (error) {
      app.log.warn({ err: (error as Error).message }, 'readiness: database unreachable');
      return reply
        .code(503)
        .send({ status: 'not_ready', database: 'down', migrating: false, pendingMigrations: [], unknownMigrations: [], redis, reason: 'database unreachable' });
    }
    const body = {
      database: 'up',
      migrating: holder !== undefined,
      ...(holder && { migration: describeHolder(holder) }),
      pendingMigrations: status.pending,
      unknownMigrations: status.unknown,
      redis,
    } as const;
    if (status.pending.length > 0) {
      return reply.code(503).send({ status: 'not_ready', ...body, reason: `pending migrations: ${status.pending.join(', ')}` });
    }
    return { status: 'ready', ...body };
  });
}
