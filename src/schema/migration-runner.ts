import type { QueryRunner } from '../db/query-runner.ts';
import type { AdoptionPlan, LegacyAdoption } from './adoption.ts';
import { backupDatabase } from './backup.ts';
import { BatchExecutor, type MigrationBatchListener, type MigrationEngine, type MigrationLogger, type MigrationSettings } from './batch-executor.ts';
import { acquireMigrationLock } from './fleet-lock.ts';
import type { MigrationIntegrity } from './migration-integrity.ts';
import type { MigrationPlanner, PlannedMigration, RunSelection } from './migration-plan.ts';
import type { KeysetPage } from '../db/keyset-page.ts';
import type { MigrationRunLog, MigrationRunReport, RecordedRun } from './migration-run-log.ts';
import { snapshotCatalog, verifySchema, type ExpectedSchema, type RowsDeleted, type VerificationReport } from './schema-verification.ts';

export type { MigrationBatchListener, MigrationEngine, MigrationLogger, MigrationSettings } from './batch-executor.ts';

/** How one run is started: by whom, and how long it may wait for another process's run. */
export interface RunOptions {
  /** Overrides `settings.lockTimeoutMs`; 0 gives up at once when another run holds the lock. */
  lockTimeoutMs?: number;
  /** Who starts the run (`startup`, `cli`, `admin-api`), as other processes are told while it runs. */
  origin?: string;
}

/** One migration of a dry run and the SQL it would run. */
export interface DryRunStep extends PlannedMigration {
  sql: string[];
}

/** What an `up` or `down` would do, found without taking the lock or changing anything. */
export interface DryRunReport {
  method: 'up' | 'down';
  migrations: DryRunStep[];
}

/** A run's outcome; a failed run carries its error in `failure` (nothing of the failed batch remains). */
export type RunResult = MigrationRunReport & { failure?: Error };

/**
 * The locked run, the one way migrations are applied or reverted (startup, CLI, admin API):
 * - holds the fleet-wide advisory lock; a process that waited plans again, usually finding nothing;
 * - refuses an `up` when an applied migration was edited or deleted since (MigrationIntegrity),
 *   and records the checksum of each migration it applies in that migration's batch;
 * - adopts a deployed database that has no migration history;
 * - runs each batch of consecutive transactional migrations in one transaction (all or nothing)
 *   with a short `lock_timeout` and retries, each non-transactional one alone;
 * - backs up before (when configured), logs each migration with its duration, releases the
 *   lock, verifies what the run could have changed, and records the run.
 * `dryRun` goes through the same plan, so what it shows is what a run does.
 */
export class MigrationRunner {
  readonly #engine: MigrationEngine;
  readonly #planner: MigrationPlanner;
  readonly #adoption: LegacyAdoption;
  readonly #integrity: MigrationIntegrity;
  readonly #runLog: MigrationRunLog;
  readonly #settings: MigrationSettings;
  readonly #serviceTables: readonly string[];
  readonly #listeners = new Set<MigrationBatchListener>();
  readonly #batches: BatchExecutor;
  #log: MigrationLogger;
  #stopRequested = false;

  constructor(options: {
    engine: MigrationEngine;
    planner: MigrationPlanner;
    adoption: LegacyAdoption;
    integrity: MigrationIntegrity;
    runLog: MigrationRunLog;
    settings: MigrationSettings;
    serviceTables: readonly string[];
    log: MigrationLogger;
  }) {
    this.#engine = options.engine;
    this.#planner = options.planner;
    this.#adoption = options.adoption;
    this.#integrity = options.integrity;
    this.#listeners.add(options.integrity.batchListener);
    this.#runLog = options.runLog;
    this.#settings = options.settings;
    this.#serviceTables = options.serviceTables;
    this.#log = options.log;
    this.#batches = new BatchExecutor(options.engine, options.settings, this.#listeners, () => this.#log);
  }

  get settings(): MigrationSettings {
    return this.#settings;
  }

  /** Routes progress messages (each migration with its duration, waits, verification) to `log`. */
  useLogger(log: MigrationLogger): void {
    this.#log = log;
  }

  /** Binds `listener` to every batch from now on; returns the function that unbinds it. */
  addBatchListener(listener: MigrationBatchListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Asks a run in progress to stop after the batch it is in, which commits or rolls back whole. */
  requestStop(): void {
    this.#stopRequested = true;
  }

  /** What `method` with `selection` would do: adoption first, then each migration in order. */
  async plan(method: 'up' | 'down', selection?: RunSelection): Promise<{ adoption: AdoptionPlan | null; migrations: PlannedMigration[] }> {
    await this.#engine.prepare();
    const executed = await this.#engine.executed();
    const adoption = method === 'up' ? await this.#adoption.plan(executed) : null;
    const migrations = await this.#planner.select(method, selection, adoption ? [...executed, ...adoption.adopt.map(m => m.name)] : executed);
    return { adoption, migrations };
  }

  /**
   * The plan with each migration's SQL. Takes no lock and changes nothing: the SQL is built in
   * a transaction that is rolled back.
   */
  async dryRun(method: 'up' | 'down', selection?: RunSelection): Promise<DryRunReport> {
    const { adoption, migrations } = await this.plan(method, selection);
    const steps: DryRunStep[] = [];
    for (const { name, sql } of adoption?.adopt ?? []) steps.push({ name, action: 'adopt', transactional: true, sql });
    const { connection } = this.#engine;
    const trx = await connection.begin();
    try {
      for (const migration of migrations) {
        steps.push({ ...migration, sql: await this.#planner.sqlOf(migration.name, method, trx, this.#engine.formatSql) });
      }
    } finally {
      await connection.rollback(trx);
    }
    return { method, migrations: steps };
  }

  /** One locked run (see the class). */
  async run(method: 'up' | 'down', selection?: RunSelection, { lockTimeoutMs = this.#settings.lockTimeoutMs, origin = 'service' }: RunOptions = {}): Promise<RunResult> {
    await this.#engine.prepare(); // the database must exist to hold a lock in it
    const lock = await acquireMigrationLock(this.#engine.clientUrl, lockTimeoutMs, {
      operation: `migration ${method}`,
      origin,
      onWait: holder => this.#log('info', `Waiting for the migration lock: ${holder}`),
    });
    this.#stopRequested = false;
    const started = Date.now();
    const report: RunResult = { method, origin, status: 'nothing to do', startedAt: new Date(started).toISOString(), durationMs: 0, migrations: [] };
    const rowsDeleted: RowsDeleted = {};
    let snapshot: Awaited<ReturnType<typeof snapshotCatalog>> | undefined;
    let released = false;
    let runId: string | undefined;
    try {
      const { adoption, migrations } = await this.plan(method, selection);
      // an `up` over an applied migration edited or deleted since is refused, and recorded as failed
      await this.#integrity.beforeRun(method, { adopt: adoption?.adopt.map(m => m.name) ?? [], apply: migrations.map(m => m.name) }, origin, this.#log).catch(error => {
        Object.assign(report, { status: 'failed', error: (error as Error).message });
        throw error;
      });
      if (!adoption && migrations.length === 0) return report;
      const names = [...(adoption?.adopt ?? []), ...migrations].map(m => m.name);
      await lock.announce({ migrations: names });
      // in the run log from its start, so that a run whose process is killed leaves a trace
      report.status = 'running';
      runId = await this.#runLog.start({ ...report, migrations: names.map(name => ({ name, durationMs: 0 })) }).catch(error => {
        this.#log('warn', `Could not record the run: ${(error as Error).message}`);
        return undefined;
      });
      if (adoption) await this.#batches.adopt(adoption, rowsDeleted);
      if (migrations.length > 0) {
        this.#log('info', `${method === 'up' ? 'Applying' : 'Reverting'} ${migrations.length} migration(s): ${migrations.map(m => m.name).join(', ')}`);
        if (this.#settings.backup) {
          const backup = await backupDatabase(this.#engine.clientUrl, this.#settings.backup.dir, this.#settings.backup.keep, `before-${method}-${migrations[0].name}`);
          report.backupFile = backup.file;
          this.#log('info', `Backed up to ${backup.file} (${backup.bytes} bytes, ${backup.entries} entries readable)`);
        }
        snapshot = await snapshotCatalog(this.#query, this.#serviceTables);
        try {
          for (const batch of this.#planner.batches(method, migrations)) {
            if (this.#stopRequested) {
              this.#log('warn', `Stopping before ${batch.migrations[0]}: shutdown requested`);
              break;
            }
            report.migrations.push(...(await this.#batches.run(batch, rowsDeleted)));
          }
          report.status = 'applied';
        } catch (error) {
          report.status = 'failed';
          report.failure = error as Error;
          report.error = (error as Error).message;
          this.#log('error', report.error);
        }
      } else {
        report.status = 'applied';
      }
      // whatever reads rows happens once other runs may go on
      released = true;
      await lock.release();
      if (report.migrations.length > 0) {
        report.verification = await this.#verifyRun(snapshot, rowsDeleted);
      }
      return report;
    } catch (error) {
      if (report.status === 'running') Object.assign(report, { status: 'failed', error: (error as Error).message });
      throw error;
    } finally {
      report.durationMs = Date.now() - started;
      const recorded = runId !== undefined ? this.#runLog.finish(runId, report) : report.status === 'failed' ? this.#runLog.record(report) : undefined;
      await recorded?.catch(error => this.#log('warn', `Could not record the run: ${(error as Error).message}`));
      if (!released) await lock.release();
    }
  }

  /** The recorded runs, newest first. */
  runs(page: { limit: number; before?: string }): Promise<KeysetPage<RecordedRun>> {
    return this.#runLog.list(page);
  }

  /** The integrity report of the whole schema: every check over every row. Takes no lock. */
  async verify(): Promise<VerificationReport> {
    return verifySchema(this.#query, { scope: 'full', expected: await this.#expected(), exclude: this.#serviceTables });
  }

  async #verifyRun(before: Awaited<ReturnType<typeof snapshotCatalog>> | undefined, rowsDeleted: RowsDeleted): Promise<VerificationReport> {
    const report = await verifySchema(this.#query, { scope: 'run', expected: await this.#expected(), before, rowsDeleted, exclude: this.#serviceTables });
    const summary = report.checks.map(check => `${check.name}: ${check.ok ? 'ok' : 'FAILED'} (${check.detail})`).join('; ');
    this.#log(report.ok ? 'info' : 'error', `Verification ${report.ok ? 'passed' : 'FAILED'}: ${summary}`);
    return report;
  }

  // what the entities expect holds only once this release's migrations are all applied
  async #expected(): Promise<ExpectedSchema | undefined> {
    const { migrations } = await this.plan('up', undefined).catch(() => ({ migrations: [null] }));
    return migrations.length === 0 ? this.#engine.expectedSchema() : undefined;
  }

  #query: QueryRunner = (sql, params = []) => this.#engine.connection.execute(sql, params);
}

