import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { Transaction } from '@mikro-orm/core';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { QueryRunner } from '../db/query-runner.ts';
import type { AdoptionPlan, LegacyAdoption } from './adoption.ts';
import { backupDatabase } from './backup.ts';
import { acquireMigrationLock } from './fleet-lock.ts';
import { isLockTimeout, MigrationFailedError } from './migration-errors.ts';
import { MigrationPlanner, type MigrationBatch, type PlannedMigration, type RunSelection } from './migration-plan.ts';
import type { KeysetPage } from '../db/keyset-page.ts';
import type { MigrationRunLog, MigrationRunReport, RecordedRun } from './migration-run-log.ts';
import { rowsDeletedInTransaction, snapshotCatalog, verifySchema, type ExpectedSchema, type RowsDeleted, type VerificationReport } from './schema-verification.ts';

/**
 * Work bound to every batch a run executes, for what must happen with a schema change and not
 * merely around it (the cache's outbox). Listeners must not throw from `afterCommit` or
 * `afterFailure`: the batch's outcome is settled by then.
 */
export interface MigrationBatchListener {
  /** The batch ran and its transaction is still open: what `execute` writes commits with it; throwing rolls it back. A non-transactional batch has no transaction: `execute` autocommits. */
  beforeCommit?(batch: MigrationBatch, execute: QueryRunner): Promise<void>;
  /** The batch has committed. */
  afterCommit?(batch: MigrationBatch): Promise<void>;
  /** The batch failed; a transactional batch left nothing behind. */
  afterFailure?(batch: MigrationBatch, error: unknown): Promise<void>;
}

/** How migration runs behave; from the validated configuration. */
export interface MigrationSettings {
  /** How long to wait for another process's migration run before failing. */
  lockTimeoutMs: number;
  /** `lock_timeout` for the DDL of a transactional batch, so live traffic never queues long behind it. */
  ddlLockTimeoutMs: number;
  /** Retries of a batch that hit `lock_timeout`, with exponential backoff. */
  ddlRetries: number;
  /** When set, a `pg_dump` is taken (and read back) before any migration is applied. */
  backup: { dir: string; keep: number } | null;
}

/** Receives a run's progress; the service routes it to its logger, the CLI to the console. */
export type MigrationLogger = (level: 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>) => void;

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

/** What a run needs of MikroORM's migrator (EnerlinkMigrator provides it). */
export interface MigrationEngine {
  readonly clientUrl: string;
  readonly connection: AbstractSqlConnection;
  /** Creates the database if configured to, and MikroORM's migrations table. */
  prepare(): Promise<void>;
  executed(): Promise<string[]>;
  /** Records migrations as applied without running them (adoption), in the open batch transaction. */
  record(names: string[]): Promise<void>;
  /** Runs these migrations through MikroORM's runner, in the open batch transaction if there is one. */
  execute(method: 'up' | 'down', names: string[]): Promise<void>;
  /** Runs `work` in a transaction that MikroORM's runner and storage join. */
  inTransaction<T>(work: (trx: Transaction) => Promise<T>): Promise<T>;
  /** Calls `started`/`finished` around each migration it executes; returns the unsubscribe. */
  onEachMigration(method: 'up' | 'down', started: (name: string) => void, finished: (name: string) => void): () => void;
  expectedSchema(): ExpectedSchema;
  formatSql(sql: string, params: unknown[]): string;
}

/**
 * The locked run, the one way migrations are applied or reverted (startup, CLI, admin API):
 * - holds the fleet-wide advisory lock; a process that waited plans again, usually finding nothing;
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
  readonly #runLog: MigrationRunLog;
  readonly #settings: MigrationSettings;
  readonly #serviceTables: readonly string[];
  readonly #listeners = new Set<MigrationBatchListener>();
  #log: MigrationLogger;
  #stopRequested = false;

  constructor(options: {
    engine: MigrationEngine;
    planner: MigrationPlanner;
    adoption: LegacyAdoption;
    runLog: MigrationRunLog;
    settings: MigrationSettings;
    serviceTables: readonly string[];
    log: MigrationLogger;
  }) {
    this.#engine = options.engine;
    this.#planner = options.planner;
    this.#adoption = options.adoption;
    this.#runLog = options.runLog;
    this.#settings = options.settings;
    this.#serviceTables = options.serviceTables;
    this.#log = options.log;
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
  async plan(method: 'up' | 'down', selection: RunSelection): Promise<{ adoption: AdoptionPlan | null; migrations: PlannedMigration[] }> {
    await this.#engine.prepare();
    const executed = await this.#engine.executed();
    const adoption = method === 'up' ? await this.#adoption.plan(executed) : null;
    const migrations = await this.#planner.select(method, selection, adoption ? [...executed, ...adoption.record] : executed);
    return { adoption, migrations };
  }

  /**
   * The plan with each migration's SQL. Takes no lock and changes nothing: the SQL is built in
   * a transaction that is rolled back.
   */
  async dryRun(method: 'up' | 'down', selection: RunSelection): Promise<DryRunReport> {
    const { adoption, migrations } = await this.plan(method, selection);
    const steps: DryRunStep[] = [];
    for (const name of adoption?.record ?? []) {
      steps.push({ name, action: 'adopt', transactional: true, sql: [...(name === adoption!.record.at(-1) ? adoption!.reconcile : [])] });
    }
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
    try {
      const { adoption, migrations } = await this.plan(method, selection);
      if (!adoption && migrations.length === 0) return report;
      const names = [...(adoption?.record ?? []), ...migrations.map(m => m.name)];
      await lock.announce({ migrations: names });
      if (adoption) await this.#adopt(adoption, rowsDeleted);
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
            report.migrations.push(...(await this.#runBatch(batch, rowsDeleted)));
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
    } finally {
      report.durationMs = Date.now() - started;
      if (report.status !== 'nothing to do') {
        await this.#runLog.record(report).catch(error => this.#log('warn', `Could not record the run: ${(error as Error).message}`));
      }
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

  // Records what is already there as applied and reconciles the rest, as one batch.
  async #adopt(adoption: AdoptionPlan, rowsDeleted: RowsDeleted): Promise<void> {
    const batch: MigrationBatch = { method: 'up', migrations: adoption.record, transactional: true };
    await this.#inBatchTransaction(batch, rowsDeleted, async trx => {
      for (const sql of adoption.reconcile) await this.#engine.connection.execute(sql, [], 'run', trx);
      await this.#engine.record(adoption.record);
    });
    this.#log('info', `Adopted ${adoption.state}: recorded ${adoption.record.join(', ')} as applied${adoption.reconcile.length ? ` and reconciled ${adoption.reconcile.length} difference(s)` : ''}`);
  }

  // One batch: in one transaction with a short lock_timeout, retried with backoff when the DDL
  // could not get its lock in time; or, for a non-transactional migration, alone.
  async #runBatch(batch: MigrationBatch, rowsDeleted: RowsDeleted): Promise<Array<{ name: string; durationMs: number }>> {
    const { method, migrations: names } = batch;
    const timings: Array<{ name: string; durationMs: number }> = [];
    let started = 0;
    let current = names[0];
    const unsubscribe = this.#engine.onEachMigration(
      method,
      name => void ((started = performance.now()), (current = name)),
      name => {
        const durationMs = Math.round((performance.now() - started) * 10) / 10;
        timings.push({ name, durationMs });
        this.#log('info', `${method === 'up' ? 'Applied' : 'Reverted'} ${name} in ${durationMs} ms`, { migration: name, durationMs });
      },
    );
    try {
      if (!batch.transactional) {
        try {
          await this.#engine.execute(method, names);
          await this.#notify(listener => listener.beforeCommit?.(batch, this.#query));
        } catch (error) {
          await this.#notify(listener => listener.afterFailure?.(batch, error));
          throw error;
        }
        await this.#notify(listener => listener.afterCommit?.(batch));
      } else {
        await this.#inBatchTransaction(batch, rowsDeleted, async () => {
          timings.length = 0;
          await this.#engine.execute(method, names);
        });
      }
    } catch (error) {
      throw new MigrationFailedError(current, method, error);
    } finally {
      unsubscribe();
    }
    return timings;
  }

  // A transaction with the batch listeners and lock_timeout retries around `work`.
  async #inBatchTransaction(batch: MigrationBatch, rowsDeleted: RowsDeleted, work: (trx: Transaction) => Promise<void>): Promise<void> {
    const { connection } = this.#engine;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#engine.inTransaction(async trx => {
            const execute: QueryRunner = (sql, params = []) => connection.execute(sql, params, 'all', trx);
            await execute(`set local lock_timeout = ${Math.max(1, this.#settings.ddlLockTimeoutMs)}`);
            // if this process dies mid-batch, PostgreSQL notices within a second and rolls back
            await execute(`set local client_connection_check_interval = 1000`);
            await work(trx);
            await this.#notify(listener => listener.beforeCommit?.(batch, execute));
            Object.assign(rowsDeleted, mergeCounts(rowsDeleted, await rowsDeletedInTransaction(execute)));
          });
          break;
        } catch (error) {
          if (!isLockTimeout(error) || attempt >= this.#settings.ddlRetries) throw error;
          const wait = Math.min(200 * 2 ** attempt, 5_000) + Math.floor(Math.random() * 100);
          this.#log(
            'warn',
            `${batch.migrations.join(', ')} could not get its lock within ${this.#settings.ddlLockTimeoutMs} ms (a long transaction holds it); retry ${attempt + 1} of ${this.#settings.ddlRetries} in ${wait} ms`,
          );
          await sleep(wait);
        }
      }
    } catch (error) {
      await this.#notify(listener => listener.afterFailure?.(batch, error));
      throw error;
    }
    await this.#notify(listener => listener.afterCommit?.(batch));
  }

  async #notify(call: (listener: MigrationBatchListener) => Promise<void> | undefined): Promise<void> {
    for (const listener of [...this.#listeners]) await call(listener);
  }

  #query: QueryRunner = (sql, params = []) => this.#engine.connection.execute(sql, params);
}

function mergeCounts(a: RowsDeleted, b: RowsDeleted): RowsDeleted {
  const merged = { ...a };
  for (const [table, count] of Object.entries(b)) merged[table] = (merged[table] ?? 0) + count;
  return merged;
}
