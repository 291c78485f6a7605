import type { EntityManager } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import { Cache } from '../cache/cache.ts';
import { CacheInvalidator, type CacheLog } from '../cache/cache-invalidator.ts';
import { recordDataChange, recordSchemaChange } from '../cache/cache-outbox.ts';
import type { AppConfig } from '../config.ts';
import type { QueryRunner } from '../db/query-runner.ts';
import { EntityChangeSubscriber } from '../events/entity-change-subscriber.ts';
import { EventBus } from '../events/event-bus.ts';
import { publishMigratorEvents } from '../events/migrator-events.ts';
import type { EnerlinkMigrator } from '../schema/enerlink-migrator.ts';
import type { RepairResult } from '../schema/migration-integrity.ts';
import type { LintReport, MigrationPlanReport } from '../schema/migration-review.ts';
import type { RunSelection } from '../schema/migration-plan.ts';
import { migrationStates, type MigrationStates } from '../schema/migration-states.ts';
import type { KeysetPage } from '../db/keyset-page.ts';
import type { RecordedRun } from '../schema/migration-run-log.ts';
import type { MigrationLogger, RunOptions, RunResult } from '../schema/migration-runner.ts';
import type { VerificationReport } from '../schema/schema-verification.ts';
import type { SeedOptions } from '../seeding/seed-options.ts';
import type { SeedContext, SeedSummary, ScenarioSummary } from '../seeding/seed-service.ts';
import type { CleanupSummary } from '../seeding/seed-cleanup.ts';
import type { FleetLockOptions, ReferenceReport } from '../seeding/reference-data.ts';
import type { CleanupTarget, ScenarioName } from '../seeding/scenario-names.ts';

/** What every entry point (service, CLI, admin API, db:reset, seeding) hands the lifecycle. */
export interface SchemaLifecycleOptions {
  /** The ORM's global EntityManager (the lifecycle forks it) and its migrator. */
  em: EntityManager;
  migrator: EnerlinkMigrator;
  config: AppConfig;
  /** A serving instance's Redis: the cache is then attached and follows the fleet's changes. */
  redis?: Redis;
  /** Where progress goes (the service's logger); the migrator's own console logging otherwise. */
  log?: CacheLog & { error(details: object, message: string): void };
}

/** Migrations by state, as this release sees the database. */
export interface MigrationStatus {
  executed: Array<{ name: string; executedAt: Date }>;
  /** Known to this release, not applied, in the order they would run. */
  pending: string[];
  /** Applied, but not known to this release (a newer release applied them). */
  unknown: string[];
}

/**
 * The schema lifecycle, composed once: the locked migration run, the dry run, status,
 * verification, the run log and seeding, with the one event bus every part publishes on and
 * the cache attached to it. Every schema change or seed, whoever makes it, records its cache
 * purge and a notification in its own transaction (outbox + NOTIFY); a serving instance
 * (`redis` given) also attaches its cache, which follows those notifications.
 */
export class SchemaLifecycle {
  /** The bus of migrator, seeder and entity events. */
  readonly events = new EventBus();
  /** The cache of a serving instance; undefined in commands. */
  readonly cache: Cache | undefined;
  readonly #options: SchemaLifecycleOptions;
  readonly #invalidator: CacheInvalidator | undefined;
  readonly #detach: Array<() => void> = [];

  private constructor(options: SchemaLifecycleOptions) {
    this.#options = options;
    const { migrator, config, redis, log, em } = options;
    if (log) migrator.pipeline.useLogger(loggerOf(log));
    this.#detach.push(publishMigratorEvents(migrator, this.events));
    // the schema change's own transaction records what the fleet's caches owe
    const record = ({ execute, migrations }: { execute: QueryRunner; migrations: string[] }) => recordSchemaChange(execute, migrations).then(() => {});
    this.events.on('schema.committing', record);
    this.#detach.push(() => this.events.off('schema.committing', record));
    if (redis) {
      this.cache = new Cache({
        redis,
        prefix: config.cachePrefix,
        ttlSeconds: config.cacheTtlSeconds,
        local: { ttlMs: config.cacheLocalTtlMs, maxEntries: config.cacheLocalMaxEntries },
      });
      const connection = em.getConnection();
      this.#invalidator = new CacheInvalidator({
        cache: this.cache,
        bus: this.events,
        execute: (sql, params) => connection.execute(sql, params),
        databaseUrl: config.databaseUrl,
        log: log ?? silentLog,
      });
      // subscribers cannot be removed from MikroORM's EventManager; this one lives as long as the ORM
      em.getEventManager().registerSubscriber(new EntityChangeSubscriber(this.events));
    }
  }

  /** Composes the lifecycle and starts what follows the fleet (a serving instance's cache). */
  static async start(options: SchemaLifecycleOptions): Promise<SchemaLifecycle> {
    const lifecycle = new SchemaLifecycle(options);
    await lifecycle.#invalidator?.start();
    return lifecycle;
  }

  /** Whether this instance hears of the fleet's schema changes (always true without a cache). */
  get followingChanges(): boolean {
    return this.#invalidator?.listening ?? true;
  }

  /** One locked run (see MigrationRunner). */
  migrate(method: 'up' | 'down', selection?: RunSelection, options?: RunOptions): Promise<RunResult> {
    return this.#options.migrator.pipeline.run(method, selection, options);
  }

  /**
   * What a run would do: each migration's SQL, the lock each statement takes on which table,
   * rewrites and scans, estimated rows, and the lint findings. Takes no lock, changes nothing.
   */
  async dryRun(method: 'up' | 'down', selection?: RunSelection): Promise<MigrationPlanReport> {
    const { migrator } = this.#options;
    return migrator.review.plan(await migrator.pipeline.dryRun(method, selection));
  }

  /** The lint of every migration of this release (or those named), on PostgreSQL's parser. */
  lint(names?: string[]): Promise<LintReport> {
    return this.#options.migrator.review.lint(names);
  }

  async status(): Promise<MigrationStatus> {
    const { migrator } = this.#options;
    const [known, executed] = await Promise.all([migrator.known(), migrator.history()]);
    const knownNames = new Set(known.map(m => m.name));
    const done = new Set(executed.map(row => row.name));
    return {
      executed,
      pending: known.map(m => m.name).filter(name => !done.has(name)),
      unknown: executed.map(row => row.name).filter(name => !knownNames.has(name)),
    };
  }

  /**
   * Every migration's state, checksums compared (applied with when, how long and by whom,
   * pending, edited, missing, unknown) and the last failed run. Takes no lock; dearer than
   * `status()`, which readiness probes call.
   */
  async states(): Promise<MigrationStates> {
    const { migrator } = this.#options;
    const [known, history, integrity, appliers, lastFailedRun] = await Promise.all([
      migrator.known(),
      migrator.history(),
      migrator.integrity.inspect(),
      migrator.runLog.appliers(),
      migrator.runLog.lastFailed(),
    ]);
    return migrationStates({ known: known.map(m => m.name), history, integrity, appliers, lastFailedRun });
  }

  /** Accepts an intentional edit or deletion of an applied migration, recorded with who and why. */
  repair(name: string, request: { by: string; reason: string; origin: string }): Promise<RepairResult> {
    const { migrator } = this.#options;
    return migrator.integrity.repair(name, { ...request, lockTimeoutMs: migrator.pipeline.settings.lockTimeoutMs });
  }

  /** Every check over every row; never under the migration lock. */
  verify(): Promise<VerificationReport> {
    return this.#options.migrator.pipeline.verify();
  }

  runs(page: { limit: number; before?: string }): Promise<KeysetPage<RecordedRun>> {
    return this.#options.migrator.pipeline.runs(page);
  }

  /** The fixture set; its transaction records the data change for every instance's cache. */
  seed(options: SeedOptions, context: Omit<SeedContext, 'events' | 'beforeCommit'> = {}): Promise<SeedSummary> {
    return seedFixtures(this.#options.em.fork(), options, { ...context, events: this.events });
  }

  /** A named scenario; recorded for the caches like the base set. */
  seedScenario(name: ScenarioName, options: SeedOptions): Promise<ScenarioSummary> {
    return seedScenario(this.#options.em.fork(), name, options, { events: this.events });
  }

  async close(): Promise<void> {
    await this.#invalidator?.stop();
    for (const detach of this.#detach.splice(0)) detach();
  }
}

/**
 * Seeding as every entry point does it (the lifecycle, `npx mikro-orm seeder:run`, `npm run seed`):
 * the seed's own transaction records the data change, so every running instance's cache retires
 * what it cached before, whoever seeds and whatever it can reach.
 */
export async function seedFixtures(em: EntityManager, options: SeedOptions, context: Omit<SeedContext, 'beforeCommit'> = {}): Promise<SeedSummary> {
  // loaded when first used: the fixture factories and faker cost a serving instance's start
  const { runSeed } = await import('../seeding/seed-service.ts');
  return runSeed(em, options, { ...context, beforeCommit: execute => recordDataChange(execute).then(() => {}) });
}

/** A named scenario, recorded like the base set: its transaction records the data change too. */
export async function seedScenario(em: EntityManager, name: ScenarioName, options: SeedOptions, context: Omit<SeedContext, 'beforeCommit'> = {}): Promise<ScenarioSummary> {
  const { runScenario } = await import('../seeding/seed-service.ts');
  return runScenario(em, name, options, { ...context, beforeCommit: execute => recordDataChange(execute).then(() => {}) });
}

/** Removes fixture rows (see runCleanup); its transaction records the data change, as a seed's does. */
export async function cleanupFixtures(em: EntityManager, target: CleanupTarget | undefined, options: Pick<SeedOptions, 'isProduction' | 'allowProduction'>): Promise<CleanupSummary> {
  const { runCleanup } = await import('../seeding/seed-cleanup.ts');
  return runCleanup(em, target, options, { beforeCommit: execute => recordDataChange(execute).then(() => {}) });
}

/** The shipped reference seeders not applied yet (readiness waits for them; see applyReferenceData). */
export async function pendingReferenceData(em: EntityManager): Promise<string[]> {
  const { pendingReferenceSeeders, REFERENCE_SEEDERS_FOLDER } = await import('../seeding/reference-data.ts');
  return pendingReferenceSeeders(em, REFERENCE_SEEDERS_FOLDER);
}

/**
 * The reference seeders not applied yet (see applyReferenceSeeders): the shipped ones unless
 * `folder` says otherwise, under the fleet lock when `fleetLock` is given (startup, seed:reference);
 * each one's transaction records the data change.
 */
export async function applyReferenceData(em: EntityManager, options: { folder?: string; fleetLock?: FleetLockOptions } = {}): Promise<ReferenceReport> {
  const { applyReferenceSeeders, REFERENCE_SEEDERS_FOLDER } = await import('../seeding/reference-data.ts');
  return applyReferenceSeeders(em, options.folder ?? REFERENCE_SEEDERS_FOLDER, { fleetLock: options.fleetLock, beforeCommit: execute => recordDataChange(execute).then(() => {}) });
}

/** Runs `work` with a command's lifecycle (no cache of its own), closed after. */
export async function withCommandLifecycle<T>(options: Omit<SchemaLifecycleOptions, 'redis'>, work: (lifecycle: SchemaLifecycle) => Promise<T>): Promise<T> {
  const lifecycle = await SchemaLifecycle.start(options);
  try {
    return await work(lifecycle);
  } finally {
    await lifecycle.close();
  }
}

const silentLog: CacheLog = { info() {}, warn() {} };

function loggerOf(log: NonNullable<SchemaLifecycleOptions['log']>): MigrationLogger {
  return (level, message, data) => log[level]({ ...data }, message);
}
