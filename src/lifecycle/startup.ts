import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { MikroORM, Options } from '@mikro-orm/postgresql';
import { describeError } from '../describe-error.ts';
import { requireAdminToken, type AppConfig } from '../config.ts';
import { createOrm } from '../orm.ts';
import { createRedis } from '../db/redis.ts';
import { migratorOf } from '../schema/enerlink-migrator.ts';
import { describeReferenceReport } from '../seeding/seed-report.ts';
import { applyReferenceData } from './schema-lifecycle.ts';

/** Startup could not complete; the message is the one line to print before exiting non-zero. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface StartOptions {
  config: AppConfig;
  /** MikroORM options on top of the configuration (tests point migrations elsewhere). */
  ormOverrides?: Partial<Options>;
  /** What ran before startService and how long it took, in ms (src/server.ts: loading the modules, the configuration). */
  phases?: Record<string, number>;
}

export interface RunningService {
  app: FastifyInstance;
  orm: MikroORM;
  /** Stops accepting, finishes in-flight requests, closes the ORM and Redis. */
  stop: (reason: string) => Promise<void>;
}

/**
 * The controlled startup: connect to PostgreSQL (retrying until DATABASE_CONNECT_TIMEOUT_MS)
 * and Redis (optional), apply pending migrations under the fleet lock when MIGRATIONS_RUN is
 * on, then listen. Ready only when the schema is current (see /health/ready).
 * Aborting `shutdown` during the migrations ends startup cleanly after the batch in progress
 * (never half a batch); startup then returns `undefined`.
 */
export async function startService({ config, ormOverrides, phases: before = {} }: StartOptions, shutdown?: AbortSignal): Promise<RunningService | undefined> {
  try {
    requireAdminToken(config);
  } catch (error) {
    throw new StartupError((error as Error).message);
  }
  const phases = new PhaseTimer(before);
  const orm = await phases.time('orm', () => createOrm(config, { migrations: { silent: true }, ...ormOverrides }));
  // Steps that wait on PostgreSQL overlap steps that keep the CPU busy: the app's modules load
  // while the connection is made, and the migrations' state is read while the app is built.
  const appModule = import('../app.ts');
  appModule.catch(() => {}); // awaited below, unless the database is out of reach first
  await phases.time('connect', () => connectWithRetry(orm, config.databaseConnectTimeoutMs));
  const { buildApp } = await phases.time('appModules', () => appModule);
  // memoized by the migrator: the run or the status below reads it; a failure is theirs to report
  migratorOf(orm)
    .known()
    .catch(() => {});

  const redis = createRedis(config);
  const app = await phases.time('app', () => buildApp({ config, orm, redis }));
  shutdown?.addEventListener('abort', () => migratorOf(orm).pipeline.requestStop(), { once: true });
  redis.connect().catch(() => {
    // the redis plugin reports it; the service runs uncached until Redis is back
  });

  if (config.migrationsRun) {
    const report = await phases.time('migrations', () => app.lifecycle.migrate('up', undefined, { origin: 'startup' }).catch(async (error: Error) => {
      // refused before anything ran (an applied migration edited or deleted, an unknown schema)
      await app.close();
      throw new StartupError(error.message, { cause: error });
    }));
    if (report.failure) {
      await app.close();
      throw new StartupError(report.failure.message);
    }
    if (report.verification && !report.verification.ok) {
      app.log.error({ verification: report.verification }, 'schema verification FAILED after migrating; see the report');
    }
  } else {
    const { pending } = await phases.time('migrations', () => app.lifecycle.status());
    if (pending.length > 0) {
      app.log.warn(
        { pendingMigrations: pending },
        `MIGRATIONS_RUN=false and ${pending.length} migration(s) pending: not ready until an operator applies them (npm run migration:up)`,
      );
    }
  }
  if (config.referenceSeedRun && !shutdown?.aborted) await phases.time('referenceData', () => applyReferenceDataAtStartup(app, config));
  if (shutdown?.aborted) {
    await app.close();
    return undefined;
  }

  if (config.adminTokenGenerated) {
    // printed once, not logged (log lines are kept and shipped, this one is for the developer),
    // and before the listening line, so whoever waits for that line finds the token too
    process.stdout.write(`enerlink: ADMIN_TOKEN is not set; this process generated one (development only, valid until it exits): ${config.adminToken}\n`);
  }
  await phases.time('listen', () => app.listen({ port: config.port, host: config.host }));
  // since the process started (Node's time origin), so it includes loading the modules
  app.log.info({ startupMs: Math.round(performance.now()), phases: phases.done() }, 'started');
  return {
    app,
    orm,
    stop: async reason => {
      app.log.info({ reason }, 'shutting down');
      await app.close();
    },
  };
}

/**
 * REFERENCE_SEED_RUN: the reference seeders not applied yet, after the migrations, under the
 * fleet lock (once across a fleet starting together). A changed one is logged, not run; one
 * that fails stops startup like a failed migration. Skipped while migrations are pending.
 */
async function applyReferenceDataAtStartup(app: FastifyInstance, config: AppConfig): Promise<void> {
  if (!config.migrationsRun && (await app.lifecycle.status()).pending.length > 0) {
    app.log.warn('REFERENCE_SEED_RUN is on but migrations are pending: reference data not applied (npm run migration:up, then npm run seed:reference)');
    return;
  }
  const fleetLock = { databaseUrl: config.databaseUrl, timeoutMs: config.migrationLockTimeoutMs, origin: 'startup' };
  const report = await applyReferenceData(app.orm.em.fork(), { fleetLock }).catch(async (error: Error) => {
    await app.close();
    throw new StartupError(error.message, { cause: error });
  });
  const { summary, changed } = describeReferenceReport(report);
  app.log.info({ applied: report.applied, unchanged: report.unchanged }, summary);
  if (changed) app.log.error({ changed: report.changed.map(({ name }) => name) }, changed);
}

/** How long each step of startup took, in ms, in the order they ran. */
class PhaseTimer {
  readonly #phases: Record<string, number>;

  constructor(before: Record<string, number>) {
    this.#phases = { ...before };
  }

  async time<T>(name: string, step: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await step();
    } finally {
      this.#phases[name] = (this.#phases[name] ?? 0) + performance.now() - started;
    }
  }

  done(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.#phases).map(([name, ms]) => [name, Math.round(ms)]));
  }
}

async function connectWithRetry(orm: MikroORM, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    try {
      await orm.connect();
      await orm.em.getConnection().execute('select 1');
      return;
    } catch (error) {
      if (Date.now() + delay > deadline) {
        await orm.close(true).catch(() => {});
        const reason = (error as Error).message.split('\n')[0];
        throw new StartupError(`cannot reach the database after ${timeoutMs} ms (DATABASE_CONNECT_TIMEOUT_MS): ${reason}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

/**
 * `npm start`: runs the service until SIGTERM/SIGINT, then stops accepting, lets in-flight
 * requests finish, closes the ORM and Redis and exits 0. A signal during the migrations lets
 * the batch in progress commit or roll back, then exits 0. A failed start is one line and exit 1.
 */
export async function runAsProcess(options: StartOptions): Promise<void> {
  let service: RunningService | undefined;
  const shutdown = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (shutdown.signal.aborted) return;
      shutdown.abort(signal);
      if (!service) return; // still starting: it stops after the migration batch in progress
      service.stop(signal).then(
        () => process.exit(0),
        error => {
          process.stderr.write(`enerlink: shutdown failed: ${describeError(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
  try {
    service = await startService(options, shutdown.signal);
  } catch (error) {
    process.stderr.write(`enerlink: ${describeError(error)}\n`);
    process.exit(1);
  }
  if (!service) process.exit(0);
  if (shutdown.signal.aborted) {
    await service.stop('signal during startup');
    process.exit(0);
  }
}
