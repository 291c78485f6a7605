import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pendingReferenceData } from '../lifecycle/schema-lifecycle.ts';
import { describeHolder, readHolder } from '../schema/fleet-lock.ts';

const liveSchema = {
  response: { 200: Type.Object({ status: Type.String() }) },
};

const readiness = Type.Object({
  status: Type.Enum(['ready', 'not_ready']),
  database: Type.Enum(['up', 'down']),
  migrating: Type.Boolean({ description: 'Whether a migration run holds the fleet lock anywhere (it does not make this instance unready)' }),
  migration: Type.Optional(Type.String({ description: 'Who holds the fleet lock and what it runs, while `migrating`' })),
  pendingMigrations: Type.Array(Type.String(), { description: "This release's migrations not applied yet" }),
  unknownMigrations: Type.Array(Type.String(), { description: 'Applied migrations this release does not know (a newer release applied them)' }),
  pendingReferenceData: Type.Array(Type.String(), { description: "This release's reference seeders not applied yet (npm run seed:reference)" }),
  redis: Type.Enum(['ready', 'connecting', 'down']),
  reason: Type.Optional(Type.String()),
});

const readySchema = {
  response: { '2xx': readiness, 503: readiness },
};

/** Liveness (the process answers) and readiness (database reachable, this release's schema and reference data applied). */
const healthRoutes: FastifyPluginAsyncTypebox = async app => {
  app.get('/health/live', { schema: liveSchema }, async () => ({ status: 'ok' }));

  // Ready = the database answers and every migration this release knows is applied. A run
  // elsewhere in the fleet (the CLI, another instance, the admin API, a newer release) leaves
  // it ready: a rolling deploy must never take every instance out of the load balancer.
  // Migrations a newer release applied are reported, not held against it. Pending ones are
  // re-read each time, so an instance started with MIGRATIONS_RUN=false becomes ready as soon
  // as an operator applies them. The same holds for the reference data the release ships (the
  // default limits: without them offers, claims and trades answer 503), read once pending
  // migrations are none, since its table may come with one.
  app.get('/health/ready', { schema: readySchema }, async (_request, reply) => {
    const redis = app.redisState();
    const connection = app.orm.em.getConnection();
    let status: Awaited<ReturnType<typeof app.lifecycle.status>>;
    let holder: Awaited<ReturnType<typeof readHolder>>;
    let referenceData: string[] = [];
    try {
      [status, holder] = await Promise.all([app.lifecycle.status(), readHolder(sql => connection.execute(sql))]);
      if (status.pending.length === 0) referenceData = await pendingReferenceData(app.orm.em.fork());
    } catch (error) {
      app.log.warn({ err: (error as Error).message }, 'readiness: database unreachable');
      return reply.code(503).send({
        status: 'not_ready' as const,
        database: 'down' as const,
        migrating: false,
        pendingMigrations: [],
        unknownMigrations: [],
        pendingReferenceData: [],
        redis,
        reason: 'database unreachable',
      });
    }
    const body = {
      database: 'up' as const,
      migrating: holder !== undefined,
      ...(holder && { migration: describeHolder(holder) }),
      pendingMigrations: status.pending,
      unknownMigrations: status.unknown,
      pendingReferenceData: referenceData,
      redis,
    };
    if (status.pending.length > 0) {
      return reply.code(503).send({ status: 'not_ready' as const, ...body, reason: `pending migrations: ${status.pending.join(', ')}` });
    }
    if (referenceData.length > 0) {
      return reply.code(503).send({ status: 'not_ready' as const, ...body, reason: `reference data not applied: ${referenceData.join(', ')} (npm run seed:reference)` });
    }
    return { status: 'ready' as const, ...body };
  });
};

export default healthRoutes;
