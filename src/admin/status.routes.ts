import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readOutboxProgress } from '../cache/cache-outbox.ts';
import { problemResponses } from '../http/problem-details.ts';
import { nullableString, strictObject, timestampSchema } from '../http/schemas.ts';
import { DEFAULT_LONG_TRANSACTION_MS, readDbHealth } from './db-health.ts';

const tags = ['admin'];
const security = [{ adminToken: [] }];
const nullableTimestamp = Type.Union([timestampSchema, Type.Null()]);

const dbHealthSchema = {
  tags,
  security,
  summary: 'The database at a glance: sizes, index use, slowest statements, connections, and what would block a migration now',
  querystring: strictObject({
    olderThanMs: Type.Integer({
      minimum: 0,
      maximum: 86_400_000,
      default: DEFAULT_LONG_TRANSACTION_MS,
      description: 'A transaction open longer than this is listed as blocking; one idle in transaction always is',
    }),
  }),
  response: {
    200: Type.Object({
      database: Type.String(),
      checkedAt: timestampSchema,
      statisticsSince: nullableTimestamp,
      tables: Type.Array(
        Type.Object({
          table: Type.String(),
          rowEstimate: Type.Integer(),
          totalBytes: Type.Integer(),
          tableBytes: Type.Integer(),
          indexBytes: Type.Integer(),
          sequentialScans: Type.Integer(),
          indexScans: Type.Integer(),
          deadRows: Type.Integer(),
          lastAnalyzedAt: nullableTimestamp,
        }),
      ),
      indexes: Type.Array(
        Type.Object({
          index: Type.String(),
          table: Type.String(),
          bytes: Type.Integer(),
          scans: Type.Integer(),
          unique: Type.Boolean(),
          unused: Type.Boolean({ description: 'Never scanned since statisticsSince and enforces no constraint' }),
        }),
      ),
      unusedIndexes: Type.Array(Type.String()),
      slowStatements: Type.Union([
        Type.Object({
          available: Type.Literal(true),
          statements: Type.Array(
            Type.Object({ query: Type.String(), calls: Type.Integer(), totalMs: Type.Number(), meanMs: Type.Number(), maxMs: Type.Number(), rows: Type.Integer() }),
          ),
        }),
        Type.Object({ available: Type.Literal(false), reason: Type.String(), howToEnable: Type.String() }),
      ]),
      connections: Type.Object({
        maxConnections: Type.Integer(),
        server: Type.Integer({ description: 'Client connections to the whole server' }),
        byState: Type.Array(Type.Object({ state: Type.String(), count: Type.Integer() })),
      }),
      blocking: Type.Object({
        olderThanMs: Type.Integer(),
        sessions: Type.Array(
          Type.Object({
            pid: Type.Integer(),
            user: nullableString(),
            application: nullableString(),
            clientAddress: nullableString(),
            state: nullableString(),
            idleInTransaction: Type.Boolean(),
            transactionStartedAt: timestampSchema,
            transactionAgeMs: Type.Integer(),
            stateSince: nullableTimestamp,
            waitingFor: Type.Array(Type.Integer()),
            query: Type.String(),
            locks: Type.Array(Type.Object({ table: Type.String(), mode: Type.String(), granted: Type.Boolean() })),
          }),
          { description: 'Oldest transaction first' },
        ),
      }),
    }),
    ...problemResponses,
  },
};

const cacheSchema = {
  tags,
  security,
  summary: 'The cache: its generation, Redis, and the purges the outbox still owes',
  querystring: strictObject({}),
  response: {
    200: Type.Object({
      prefix: Type.String(),
      generation: Type.Union([Type.String(), Type.Null()], { description: 'The schema generation this instance reads and writes under; null: bypassed' }),
      active: Type.Boolean({ description: 'Reads are served from Redis right now' }),
      redis: Type.String({ description: "ioredis' connection status" }),
      outbox: Type.Object({
        present: Type.Boolean(),
        pending: Type.Integer(),
        claimed: Type.Integer(),
        oldestPendingAt: nullableTimestamp,
        purged: Type.Integer(),
        lastPurgedAt: nullableTimestamp,
        purgedKeys: Type.Integer(),
      }),
    }),
    ...problemResponses,
  },
};

/**
 * The admin API's read-only views of the database and the cache (what the operator page shows
 * beside the lifecycle). Registered from inside adminRoutes, so the token, the rate limit and
 * the audit log apply to them as to every admin route.
 */
const statusRoutes: FastifyPluginAsyncTypebox = async app => {
  const connection = app.orm.em.getConnection();
  const execute = (sql: string, params?: unknown[]) => connection.execute(sql, params);

  app.get('/admin/db/health', { schema: dbHealthSchema, config: { action: 'db.health' } }, async request => {
    const health = await readDbHealth(execute, { olderThanMs: request.query.olderThanMs });
    request.auditResult = { blocking: health.blocking.sessions.length, unusedIndexes: health.unusedIndexes.length };
    return health;
  });

  app.get('/admin/cache', { schema: cacheSchema, config: { action: 'cache.status' } }, async request => {
    const { cache, redis } = app;
    const outbox = await readOutboxProgress(execute);
    request.auditResult = { pending: outbox.pending };
    return { prefix: cache.prefix, generation: cache.generation ?? null, active: cache.active, redis: redis.status, outbox };
  });
};

export default statusRoutes;
