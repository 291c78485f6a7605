import { performance } from 'node:perf_hooks';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { purgeNamespace } from '../cache/cache-purge.ts';
import { describeBadNamespace, requireAdminToken, type AppConfig } from '../config.ts';
import {
  AdminForbiddenError,
  CacheUnavailableError,
  ConflictingOptionsError,
  InvalidNamespaceError,
  MigrationIntegrityFailedError,
  MigrationNotAppliedError,
  MigrationNotFoundError,
  MigrationRunFailedError,
  MigrationRunningError,
  RevertNotConfirmedError,
  RouteNotFoundError,
  SchemaContractMismatchError,
  SchemaNotCurrentError,
  TooManyRequestsError,
  UnauthorizedError,
  withProblemDetails,
} from '../errors.ts';
import { InitialRevertNotConfirmedError, MigrationNotAppliedError as NotAppliedError, SchemaContractError, UnknownMigrationError } from '../schema/migration-errors.ts';
import { MigrationIntegrityError } from '../schema/migration-integrity.ts';
import type { RunSelection } from '../schema/migration-plan.ts';
import { MigrationLockTimeoutError, readHolder } from '../schema/fleet-lock.ts';
import { checkSeedOptions, seedOptionsOf } from '../seeding/seed-options.ts';
import { isSizedScenario, type ScenarioName } from '../seeding/scenario-names.ts';
import { bearerToken, isAdminToken, tokenFingerprint } from './admin-token.ts';
import { AuditLog, auditParams, outcomeOf, type AuditQuery } from './audit-log.ts';
import statusRoutes from './status.routes.ts';
import marketAdminRoutes from './market-admin.routes.ts';
import { auditSchema, downSchema, purgeSchema, runsSchema, seedSchema, statusSchema, upSchema, verifySchema } from './admin.schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What an admin action did, in a few fields, for its audit entry. */
    auditResult: Record<string, unknown> | null;
    /** Fingerprint of the token the admin request presented; null without one. */
    adminTokenFingerprint: string | null;
  }
  interface FastifyContextConfig {
    /** The audit log's name of an admin route's action. */
    action?: string;
  }
}

export interface AdminRoutesOptions {
  config: AppConfig;
}

// An admin request has a few small fields; anything larger is a mistake or an attack.
const BODY_LIMIT = 16 * 1024;

/**
 * The admin API under /admin: the schema lifecycle over HTTP, through the same lifecycle as
 * the CLI and the startup (`app.lifecycle`: the locked run, dry run, verification, seeding) and
 * the one cache purge (purgeNamespace). Every request is
 * rate-limited per client address, then must carry `Authorization: Bearer <ADMIN_TOKEN>`,
 * and is written to the audit log, refused or not.
 */
export default async function adminRoutes(app: FastifyInstance, { config }: AdminRoutesOptions): Promise<void> {
  const adminToken = requireAdminToken(config);
  const { lifecycle } = app;
  const connection = app.orm.em.getConnection();
  const audit = new AuditLog((sql, params) => connection.execute(sql, params));

  app.decorateRequest('auditResult', null);
  app.decorateRequest('adminTokenFingerprint', null);

  await app.register(rateLimit, {
    max: config.adminRateLimitPerMinute,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) =>
      new TooManyRequestsError(`At most ${context.max} admin requests per minute from one address (ADMIN_RATE_LIMIT_PER_MINUTE); retry in ${context.after}`),
  });

  // Which token a request presented, for its audit entry, even when the rate limit refuses it.
  app.addHook('onRequest', async request => {
    const presented = bearerToken(request.headers.authorization);
    request.adminTokenFingerprint = presented === undefined ? null : tokenFingerprint(presented);
  });

  // The token is checked after the rate limit (so guessing it is rate-limited too) and before
  // the body is read; both are route-level onRequest hooks, added in this order.
  const authenticate: onRequestHookHandler = async request => {
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined) {
      throw new UnauthorizedError('The admin API needs a token: send Authorization: Bearer <ADMIN_TOKEN>');
    }
    if (!isAdminToken(adminToken, presented)) throw new UnauthorizedError('Wrong admin token');
  };
  app.addHook('onRoute', route => {
    route.onRequest = [route.onRequest ?? []].flat().concat(authenticate);
    route.bodyLimit ??= BODY_LIMIT;
  });

  // A POST without a body means "the defaults", as with the CLI commands without options.
  app.addHook('preValidation', async request => {
    if (request.body === undefined && request.method === 'POST') request.body = {};
  });

  // Written before the reply leaves, so a client that got its answer finds its entry.
  app.addHook('onSend', async (request, reply, payload) => {
    await recordAction(app, audit, request, reply, payload);
    return payload;
  });

  app.get('/admin/migrations', { schema: statusSchema, config: { action: 'migrations.status' } }, async request => {
    const [{ executed, pending }, states, holder] = await Promise.all([lifecycle.status(), lifecycle.states(), readHolder(sql => connection.execute(sql))]);
    const named = (state: string) => states.migrations.filter(m => m.state === state).map(({ name, detail }) => ({ name, detail }));
    request.auditResult = { executed: executed.length, pending: pending.length, migrating: holder !== undefined, exitCode: states.exitCode };
    return {
      executed,
      pending: pending.map(name => ({ name })),
      unknown: named('unknown').map(({ name }) => ({ name })),
      edited: named('edited'),
      missing: named('missing'),
      migrations: states.migrations,
      lastFailedRun: states.lastFailedRun,
      clean: states.exitCode === 0,
      migrating: holder !== undefined,
      running: holder,
    };
  });

  app.get<{ Querystring: { limit: number; before?: string } }>(
    '/admin/migrations/runs',
    { schema: runsSchema, config: { action: 'migrations.runs' } },
    async request => {
      const page = await lifecycle.runs(request.query);
      request.auditResult = { runs: page.items.length };
      return page;
    },
  );

  app.post<{ Body: { to?: string; dryRun: boolean } }>(
    '/admin/migrations/up',
    { schema: upSchema, config: { action: 'migrations.up' } },
    async request => {
      const { to, dryRun } = request.body;
      return runOrPreview(request, 'up', to === undefined ? undefined : { to }, dryRun);
    },
  );

  app.post<{ Body: { to?: string; steps?: number; revertInitial: boolean; dryRun: boolean } }>(
    '/admin/migrations/down',
    { schema: downSchema, config: { action: 'migrations.down' } },
    async request => {
      const { to, steps, revertInitial, dryRun } = request.body;
      if (to !== undefined && steps !== undefined) {
        throw new ConflictingOptionsError('Give either "to" (revert every migration after it) or "steps" (revert that many), not both');
      }
      return runOrPreview(request, 'down', to === undefined ? { steps: steps ?? 1, revertInitial } : { to, revertInitial }, dryRun);
    },
  );

  async function runOrPreview(request: FastifyRequest, method: 'up' | 'down', options: RunSelection, dryRun: boolean) {
    try {
      if (dryRun) {
        const preview = await lifecycle.dryRun(method, options);
        request.auditResult = { dryRun: true, migrations: preview.migrations.map(m => m.name) };
        return { dryRun: true, ...preview };
      }
      const { failure, ...report } = await lifecycle.migrate(method, options, { lockTimeoutMs: 0, origin: 'admin-api' });
      request.auditResult = { status: report.status, migrations: report.migrations.map(m => m.name), verified: report.verification?.ok };
      if (failure) {
        throw withProblemDetails(new MigrationRunFailedError(`${failure.message} (its batch was rolled back)`), { report }, { expose: true });
      }
      return { dryRun: false, ...report };
    } catch (error) {
      throw asAdminError(error);
    }
  }

  app.get('/admin/schema/verify', { schema: verifySchema, config: { action: 'schema.verify' } }, async request => {
    const report = await lifecycle.verify();
    request.auditResult = { ok: report.ok, failed: report.checks.filter(check => !check.ok).map(check => check.name) };
    return report;
  });

  app.post<{ Body: { users?: number; trades?: number; seed?: number; scenario?: ScenarioName } }>(
    '/admin/seed',
    { schema: seedSchema, config: { action: 'seed' } },
    async request => {
      if (config.isProduction) {
        throw new AdminForbiddenError(
          'Seeding is refused in production: fixture users log in with the password "password". ' +
            'To seed a production database deliberately, run npm run seed with SEED_ALLOW_PRODUCTION=1.',
        );
      }
      const defaults = seedOptionsOf(config);
      const options = {
        ...defaults,
        users: request.body.users ?? defaults.users,
        trades: request.body.trades ?? defaults.trades,
        seed: request.body.seed ?? defaults.seed,
      };
      const { scenario } = request.body;
      if (scenario && !isSizedScenario(scenario) && (request.body.users !== undefined || request.body.trades !== undefined)) {
        throw new ConflictingOptionsError(`Scenario ${scenario} has a fixed size: it takes seed, not users or trades`);
      }
      if (!scenario || isSizedScenario(scenario)) {
        try {
          checkSeedOptions(options);
        } catch (error) {
          throw new ConflictingOptionsError((error as Error).message);
        }
      }
      const { pending } = await lifecycle.status();
      if (pending.length > 0) {
        throw new SchemaNotCurrentError(`Apply the pending migrations first (POST /admin/migrations/up): ${pending.join(', ')}`);
      }
      if (scenario) {
        const summary = await lifecycle.seedScenario(scenario, options);
        request.auditResult = { scenario, seed: summary.seed, inserted: summary.inserted };
        return summary;
      }
      const summary = await lifecycle.seed(options);
      request.auditResult = { seed: summary.seed, users: summary.users, trades: summary.trades, inserted: summary.inserted };
      return summary;
    },
  );

  app.post<{ Body: { namespace?: string } }>(
    '/admin/cache/purge',
    { schema: purgeSchema, config: { action: 'cache.purge' } },
    async request => {
      const namespace = request.body.namespace ?? config.cachePrefix;
      const problem = describeBadNamespace(namespace);
      if (problem) throw new InvalidNamespaceError(`body.namespace: ${problem}, got ${JSON.stringify(namespace)}`);
      if (app.redis.status !== 'ready') {
        throw withProblemDetails(new CacheUnavailableError(`Redis is not reachable (${app.redis.status}); nothing was purged`), {}, { expose: true });
      }
      const started = performance.now();
      const { matched, deleted } = await purgeNamespace(app.redis, namespace);
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      request.auditResult = { namespace, deleted };
      return { namespace, matched, deleted, durationMs };
    },
  );

  // the read-only views of the database and the cache, under the hooks above
  await app.register(statusRoutes);

  // The market's operator endpoints (meters, limits, payments): under the same hooks as the above.
  await app.register(marketAdminRoutes);

  app.get<{ Querystring: AuditQuery }>('/admin/audit', { schema: auditSchema, config: { action: 'audit.list' } }, async request => {
    const page = await audit.list(request.query);
    request.auditResult = { entries: page.items.length };
    return page;
  });

  // An unknown admin path is answered like the others, after the token check, and audited:
  // probing for paths leaves a row per probe too.
  app.route({
    method: ['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT'],
    url: '/admin/*',
    schema: { hide: true },
    config: { action: 'unknown' },
    handler: async request => {
      throw new RouteNotFoundError(request.method, request.url.split('?')[0]);
    },
  });
}

/** The HTTP error for what the migrator threw; anything else is the server's fault and stays as it is. */
function asAdminError(error: unknown): unknown {
  if (error instanceof UnknownMigrationError) return new MigrationNotFoundError(error.migration);
  if (error instanceof NotAppliedError) return new MigrationNotAppliedError(error.message);
  if (error instanceof InitialRevertNotConfirmedError) return new RevertNotConfirmedError(error.message);
  if (error instanceof MigrationLockTimeoutError) {
    return withProblemDetails(new MigrationRunningError(`Not started: ${error.message}`), { running: error.holder });
  }
  if (error instanceof MigrationIntegrityError) {
    return withProblemDetails(new MigrationIntegrityFailedError(error.message), { problems: error.problems });
  }
  if (error instanceof SchemaContractError) {
    return withProblemDetails(new SchemaContractMismatchError(error.message.split('\n')[0]), { differences: error.differences });
  }
  return error;
}

async function recordAction(app: FastifyInstance, audit: AuditLog, request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  const durationMs = Math.round(reply.elapsedTime * 1000) / 1000;
  const statusCode = reply.statusCode;
  const params: Record<string, unknown> = {};
  if (request.body !== undefined) params.body = request.body;
  if (request.query && Object.keys(request.query).length > 0) params.query = request.query;
  const entry = {
    action: request.routeOptions.config.action ?? 'unknown',
    method: request.method,
    path: request.url.split('?')[0].slice(0, 500),
    params: auditParams(params),
    statusCode,
    outcome: outcomeOf(statusCode),
    result: statusCode < 400 ? request.auditResult : problemSummary(payload),
    tokenFingerprint: request.adminTokenFingerprint,
    clientAddress: request.ip ?? null,
    userAgent: request.headers['user-agent'] ?? null,
    requestId: String(request.id),
    startedAt: new Date(Date.now() - durationMs),
    durationMs,
  };
  app.log.info({ audit: { ...entry, params: undefined } }, `admin ${entry.action}: ${entry.outcome} (${statusCode})`);
  try {
    await audit.record(entry);
  } catch (error) {
    // the action itself is done (or refused); the log line above still tells about it
    app.log.error({ err: error, audit: entry }, 'could not write the admin audit entry');
  }
}

// The code and detail of a problem reply, to say in the log why a request was refused.
function problemSummary(payload: unknown): Record<string, unknown> | null {
  if (typeof payload !== 'string') return null;
  try {
    const { code, detail } = JSON.parse(payload);
    return { code, detail: typeof detail === 'string' ? detail.slice(0, 1000) : detail };
  } catch {
    return null;
  }
}
