import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { RawQueryFragment, type MigrateOptions, type MigrationInfo, type MikroORM, type Transaction } from '@mikro-orm/core';
import { Migrator as MikroOrmMigrator, type Migration } from '@mikro-orm/migrations';
import { keysetPage, type KeysetPage } from '../db/keyset-page.ts';
import { backupDatabase } from './backup.ts';
import { acquireMigrationLock } from './fleet-lock.ts';
import { readSchemaFingerprint, type QueryRunner, type SchemaFingerprint } from './schema-fingerprint.ts';
import { COMPOSITE_INDEXES_MIGRATION, differencesAfterAdoption, recognizeDeployedState, RENAME_MIGRATION, type DeployedState } from './legacy-adoption.ts';
import { countRows, verifySchema, type ExpectedSchema, type VerificationReport } from './schema-verification.ts';

/** The migration that creates the deployed prosumer-era schema (the contract). */
export const INITIAL_MIGRATION = 'Migration20241102000000_InitialSchema';
/** MikroORM's record of executed migrations. */
export const MIGRATIONS_TABLE = 'mikro_orm_migrations';
/** enerlink's record of every migration run: who, what, how long, backup, verification. */
export const MIGRATION_RUNS_TABLE = 'enerlink_migration_run';
/** The cache's durable record of purges owed (see src/cache). */
export const CACHE_OUTBOX_TABLE = 'cache_outbox';
/**
 * The admin API's audit log (see src/admin/audit-log.ts): created on first use, not by a
 * migration, so that it survives every `down`.
 */
export const ADMIN_AUDIT_TABLE = 'enerlink_admin_audit';
/** Tables of MikroORM's and enerlink's own machinery, not of the legacy contract. */
export const SERVICE_TABLES = [MIGRATIONS_TABLE, MIGRATION_RUNS_TABLE, CACHE_OUTBOX_TABLE, ADMIN_AUDIT_TABLE];

/** Migrations that ran together: a batch of transactional ones, or one non-transactional one. */
export interface MigrationBatch {
  method: 'up' | 'down';
  /** In the order they ran. */
  migrations: string[];
}

/**
 * Work bound to every batch the migrator runs, for what must happen with a schema change and
 * not merely around it (the cache's purge outbox). Listeners must not throw from `afterCommit`
 * or `afterFailure`: the batch's outcome is settled by then.
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
  /** `lock_timeout` for the DDL of a transactional batch, so it never queues behind a long transaction. */
  ddlLockTimeoutMs: number;
  /** Retries of a batch that hit `lock_timeout`, with exponential backoff. */
  ddlRetries: number;
  /** When set, a `pg_dump` is taken (and read back) before any migration is applied. */
  backup: { dir: string; keep: number } | null;
}

export const DEFAULT_MIGRATION_SETTINGS: MigrationSettings = { lockTimeoutMs: 120_000, ddlLockTimeoutMs: 3_000, ddlRetries: 5, backup: null };

/** Receives the migrator's progress; the service routes it to its logger, the CLI to the console. */
export type MigrationLogger = (level: 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>) => void;

/** What a run did, as logged, recorded in `enerlink_migration_run` and returned by `runWithReport`. */
export interface MigrationRunReport {
  method: 'up' | 'down';
  /** Who started it: `startup`, `cli`, `admin-api`, ... */
  origin: string;
  status: 'applied' | 'failed' | 'nothing to do';
  startedAt: string;
  durationMs: number;
  migrations: Array<{ name: string; durationMs: number }>;
  backupFile?: string;
  verification?: VerificationReport;
  error?: string;
}

/** A run as `enerlink_migration_run` keeps it (`origin` is null for runs recorded before it was). */
export interface RecordedRun extends Omit<MigrationRunReport, 'origin' | 'backupFile' | 'verification' | 'error'> {
  id: string;
  origin: string | null;
  backupFile: string | null;
  verification: VerificationReport | null;
  error: string | null;
  host: string;
  pid: number;
}

/** Which migrations to revert: MikroORM's options plus a step count. */
export type DownOptions = Omit<MigrateOptions, 'from'> & { steps?: number };

/** A migration name (or 14-digit version) that no migration file has. */
export class UnknownMigrationError extends Error {
  override name = 'UnknownMigrationError';
  readonly migration: string;
  constructor(migration: string) {
    super(`Unknown migration: ${migration}`);
    this.migration = migration;
  }
}

/** A `down` to a migration that exists but is not applied: there is nothing to revert to. */
export class MigrationNotAppliedError extends Error {
  override name = 'MigrationNotAppliedError';
  readonly migration: string;
  constructor(migration: string) {
    super(`Migration ${migration} is not applied: cannot revert to it`);
    this.migration = migration;
  }
}

/** How one run is started: by whom, and how long it may wait for another process's run. */
export interface RunOptions {
  /** Overrides `settings.lockTimeoutMs`; 0 gives up at once when another run holds the lock. */
  lockTimeoutMs?: number;
  /** Who starts the run (`startup`, `cli`, `admin-api`), as other processes are told while it runs. */
  origin?: string;
}

/** One migration of a dry run and the SQL it would run. */
export interface DryRunStep {
  name: string;
  /** `adopt`: a deployed database already has what it does: recorded as applied, running only `sql`, which reconciles what the previous backend's script left. */
  action: 'apply' | 'revert' | 'adopt';
  /** Whether it runs in a transaction (with the rest of its batch). */
  transactional: boolean;
  sql: string[];
}

/** What an `up` or `down` would do, found without taking the lock or changing anything. */
export interface DryRunReport {
  method: 'up' | 'down';
  migrations: DryRunStep[];
}

/** The database has tables but no migration history, and they are not the legacy contract. */
export class SchemaContractError extends Error {
  override name = 'SchemaContractError';
  readonly differences: string[];
  constructor(differences: string[]) {
    super(
      `Refusing to adopt this database: it has no migration history and its schema differs from the legacy contract ` +
        `in ${differences.length} place(s):\n  ${differences.join('\n  ')}`,
    );
    this.differences = differences;
  }
}

/** A migration failed; nothing of its batch was kept. */
export class MigrationFailedError extends Error {
  override name = 'MigrationFailedError';
  readonly migration: string;
  readonly method: 'up' | 'down';
  constructor(migration: string, method: 'up' | 'down', cause: unknown) {
    super(`Migration ${migration} (${method}) failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.migration = migration;
    this.method = method;
  }
}

interface PlannedMigration {
  name: string;
  path?: string;
  transactional: boolean;
}

/**
 * MikroORM's migrator with what a fleet of enerlink databases needs:
 * - every run (up or down, from the CLI, the startup or the admin API) holds the fleet-wide
 *   advisory lock; a process that waited re-reads what is pending, usually nothing;
 * - adopts a deployed legacy database (no migration history) by checking it against the
 *   contract and recording the initial migration as applied instead of running it;
 * - runs each batch of consecutive transactional migrations in one transaction (all or
 *   nothing) with a short `lock_timeout` and retries, and each non-transactional migration
 *   (CREATE INDEX CONCURRENTLY) alone, outside any transaction, so the two never deadlock;
 * - backs up before applying (when configured), verifies after, logs each migration with
 *   its duration and records the run;
 * - rejects unknown migration names instead of silently doing nothing.
 */
export class EnerlinkMigrator extends MikroOrmMigrator {
  settings: MigrationSettings = DEFAULT_MIGRATION_SETTINGS;
  /** Who starts runs that do not say (RunOptions.origin). */
  origin = 'service';
  #transactional = new Map<string, boolean>();
  #batchListeners = new Set<MigrationBatchListener>();
  #stopRequested = false;
  #log: MigrationLogger = (level, message) => {
    if (!this.options.silent || level !== 'info') this.config.getLogger().log('migrator', message, { enabled: true });
  };

  /** Routes progress messages (each migration with its duration, waits, verification) to `log`. */
  useLogger(log: MigrationLogger): void {
    this.#log = log;
  }

  /** Binds `listener` to every batch this migrator runs from now on; returns the function that unbinds it. */
  addBatchListener(listener: MigrationBatchListener): () => void {
    this.#batchListeners.add(listener);
    return () => void this.#batchListeners.delete(listener);
  }

  /**
   * Asks a run in progress to stop after the batch it is in: the batch commits or rolls back
   * as a whole, so a shutdown never leaves a half-applied schema.
   */
  requestStop(): void {
    this.#stopRequested = true;
  }

  // MikroORM creates its migrations table with a check-then-create; processes starting
  // together (a readiness probe, the CLI) can both try. The loser finds the table there.
  protected override async init(): Promise<void> {
    try {
      await super.init();
    } catch (error) {
      if (!isDuplicateObject(error)) throw error;
      await this.storage.ensureTable?.();
    }
  }

  /** The schema the initial migration creates, read from a scratch schema that is rolled back. */
  async contractFingerprint(): Promise<SchemaFingerprint> {
    return (await this.fingerprintsAfter([INITIAL_MIGRATION]))[0];
  }

  /**
   * The schema after each of `names` (run in this order from nothing), read from a scratch
   * schema that is rolled back. CONCURRENTLY is left out of non-transactional migrations: it
   * only matters on tables others write to, and cannot run in the scratch's transaction.
   */
  async fingerprintsAfter(names: string[]): Promise<SchemaFingerprint[]> {
    const discovered = await this.discoverMigrations();
    const connection = this.driver.getConnection();
    const scratch = `enerlink_contract_${randomBytes(6).toString('hex')}`;
    const fingerprints: SchemaFingerprint[] = [];
    const trx = await connection.begin();
    try {
      await connection.execute(`create schema ${scratch}`, [], 'run', trx);
      await connection.execute(`set local search_path to ${scratch}`, [], 'run', trx);
      for (const name of names) {
        const info = discovered.find(m => m.name === name);
        if (!info?.path) throw new UnknownMigrationError(name);
        const migration = await this.instantiate(info.path);
        migration.reset();
        await migration.up();
        for (const sql of migration.getQueries() as string[]) {
          await connection.execute(migration.isTransactional() ? sql : sql.replace(/\bCONCURRENTLY\b/gi, ''), [], 'run', trx);
        }
        fingerprints.push(await readSchemaFingerprint((sql, params) => connection.execute(sql, params, 'all', trx), scratch));
      }
      return fingerprints;
    } finally {
      await connection.rollback(trx);
    }
  }

  /** The shape of the live schema, without the bookkeeping tables. */
  async liveFingerprint(): Promise<SchemaFingerprint> {
    return readSchemaFingerprint(this.query, this.schemaName(), SERVICE_TABLES);
  }

  /** The integrity report of the live schema (foreign keys, indexes, orphans; counts when given). */
  async verify(countsBefore?: Record<string, number>): Promise<VerificationReport> {
    await this.init();
    const atLatest = (await this.getPending()).length === 0;
    return verifySchema(this.query, { expected: atLatest ? this.expectedSchema() : undefined, countsBefore, exclude: SERVICE_TABLES });
  }

  /**
   * On a database with tables but no migration history: if it is the legacy contract or what
   * the previous backend's rename script left (see legacy-adoption.ts), record the migrations it
   * already has as applied, after reconciling what the script left undone, in one transaction
   * (all or nothing) under the DDL `lock_timeout`, retried like a batch; otherwise refuse with
   * the differences. Returns whether the database was adopted.
   */
  async adoptDeployedDatabase(): Promise<boolean> {
    const deployed = await this.deployedState();
    if (deployed.state === 'nothing to adopt') return false;
    const sql = deployed.adopt.flatMap(migration => migration.sql);
    const connection = this.driver.getConnection();
    let transactionMs = 0;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.inTransaction(async trx => {
          const query: QueryRunner = (text, params = []) => connection.execute(text, params, 'all', trx);
          await query(`set local lock_timeout = ${Math.max(1, this.settings.ddlLockTimeoutMs)}`);
          await query(`set local client_connection_check_interval = 1000`);
          for (const statement of sql) await query(statement);
          const differences = await differencesAfterAdoption(query, this.schemaName(), SERVICE_TABLES, deployed.expected);
          if (differences.length > 0) throw new SchemaContractError(differences);
          for (const { name } of deployed.adopt) await this.storage.logMigration({ name });
        });
        transactionMs = Math.round((performance.now() - started) * 10) / 10;
        break;
      } catch (error) {
        if (!isLockTimeout(error) || attempt >= this.settings.ddlRetries) throw error;
        const wait = Math.min(200 * 2 ** attempt, 5_000) + Math.floor(Math.random() * 100);
        this.#log('warn', `Adoption could not get its lock within ${this.settings.ddlLockTimeoutMs} ms (a long transaction holds it); retry ${attempt + 1} of ${this.settings.ddlRetries} in ${wait} ms`);
        await sleep(wait);
      }
    }
    const names = deployed.adopt.map(migration => migration.name);
    this.#log('info', `Adopted the deployed schema (${deployed.state}): recorded ${names.map(name => `'${name}'`).join(', ')} as applied` +
      (sql.length > 0 ? `, after ${sql.length} reconciling statement(s)` : '') + ` in one transaction of ${transactionMs} ms`,
      { state: deployed.state, migrations: names, sql, durationMs: transactionMs });
    return true;
  }

  /**
   * Whether the next `up` adopts a deployed database (tables, no migration history); throws
   * SchemaContractError when it is in no state enerlink recognizes.
   */
  async wouldAdopt(): Promise<boolean> {
    const deployed = await this.deployedState();
    return deployed.state !== 'nothing to adopt';
  }

  /**
   * The state of a database without migration history (`nothing to adopt` when it has a history or no
   * tables of ours); throws SchemaContractError when it is unrecognized.
   */
  async deployedState(): Promise<Exclude<DeployedState, { state: 'unrecognized' }>> {
    await this.init();
    if ((await this.storage.executed()).length > 0) return { state: 'nothing to adopt' };
    const live = await this.liveFingerprint();
    if (Object.keys(live).length === 0) return { state: 'nothing to adopt' };
    const names = [INITIAL_MIGRATION, RENAME_MIGRATION, COMPOSITE_INDEXES_MIGRATION];
    const [contract, renamed, indexed] = await this.fingerprintsAfter(names);
    const rename = (await this.discoverMigrations()).find(m => m.name === RENAME_MIGRATION)!;
    const deployed = recognizeDeployedState(live, {
      contract,
      renamed,
      indexed,
      renameSql: await this.sqlOf(rename, 'up'),
      migrations: { initial: INITIAL_MIGRATION, rename: RENAME_MIGRATION, compositeIndexes: COMPOSITE_INDEXES_MIGRATION },
    });
    if (deployed.state === 'unrecognized') throw new SchemaContractError(deployed.differences);
    return deployed;
  }

  /** Executed migrations (oldest first, with when) and pending ones (in the order they would run). */
  async status(): Promise<{ executed: Array<{ name: string; executedAt: Date }>; pending: string[] }> {
    await this.init();
    const executed = await this.storage.getExecutedMigrations();
    const done = new Set(executed.map(row => row.name));
    const pending = (await this.discoverMigrations()).map(m => m.name).filter(name => !done.has(name));
    return { executed: executed.map(row => ({ name: row.name, executedAt: new Date(row.executed_at) })), pending };
  }

  /**
   * What `up` or `down` with these options would do: the migrations, in order, each with the
   * SQL it would run. Takes no lock and changes nothing: each migration builds its SQL inside
   * a transaction that is rolled back, so even one that reads (or writes) while it builds
   * leaves no trace.
   */
  async dryRun(method: 'up' | 'down', options?: string | string[] | DownOptions | MigrateOptions): Promise<DryRunReport> {
    const deployed = method === 'up' ? await this.deployedState() : undefined;
    const adopted = new Map(deployed && deployed.state !== 'nothing to adopt' ? deployed.adopt.map(m => [m.name, m.sql]) : []);
    const planned = await this.plan(method, options);
    const steps: DryRunStep[] = [];
    for (const info of planned) {
      const transactional = await this.isTransactional(info);
      const reconciling = adopted.get(info.name);
      if (reconciling) {
        steps.push({ name: info.name, action: 'adopt', transactional, sql: reconciling });
        continue;
      }
      steps.push({ name: info.name, action: method === 'up' ? 'apply' : 'revert', transactional, sql: await this.sqlOf(info, method) });
    }
    return { method, migrations: steps };
  }

  private async sqlOf(info: MigrationInfo, method: 'up' | 'down'): Promise<string[]> {
    if (!info.path) throw new UnknownMigrationError(info.name);
    const migration = await this.instantiate(info.path);
    const connection = this.driver.getConnection();
    const platform = this.driver.getPlatform();
    const trx = await connection.begin();
    try {
      migration.reset();
      migration.setTransactionContext(trx);
      await migration[method]();
      return migration
        .getQueries()
        .map(query => {
          if (typeof query === 'string') return query;
          if (query instanceof RawQueryFragment) return platform.formatQuery(query.sql, query.params as unknown[]);
          return query.toString();
        })
        .filter(sql => sql.trim().length > 0);
    } finally {
      await connection.rollback(trx);
    }
  }

  /** The migrations an `up` or `down` with these options would run, in order, without running them. */
  async plan(method: 'up' | 'down', options?: string | string[] | DownOptions | MigrateOptions): Promise<MigrationInfo[]> {
    await this.init();
    const all = await this.discoverMigrations();
    const byName = new Map(all.map(m => [m.name, m]));
    const resolve = (name: string | number) => this.resolveName(String(name), byName);
    const executed = await this.storage.executed();
    const opts: DownOptions & MigrateOptions =
      typeof options === 'string' || Array.isArray(options) ? { migrations: [options].flat() } : { ...options };
    const only = opts.migrations?.map(resolve);

    let names: string[];
    if (method === 'up') {
      const done = new Set(executed);
      names = all.map(m => m.name).filter(name => !done.has(name));
      if (only) {
        names = names.filter(name => only.includes(name));
      } else {
        if (opts.from !== undefined && opts.from !== 0) {
          const from = all.findIndex(m => m.name === resolve(opts.from!));
          names = names.filter(name => all.findIndex(m => m.name === name) > from);
        }
        if (opts.to !== undefined && opts.to !== 0) {
          const to = all.findIndex(m => m.name === resolve(opts.to!));
          names = names.filter(name => all.findIndex(m => m.name === name) <= to);
        }
      }
    } else {
      const reversed = [...executed].reverse();
      if (only) {
        names = reversed.filter(name => only.includes(name));
      } else if (opts.to === 0) {
        names = reversed;
      } else if (opts.to !== undefined) {
        const target = resolve(opts.to);
        if (!executed.includes(target)) throw new MigrationNotAppliedError(target);
        names = reversed.slice(0, reversed.indexOf(target));
      } else {
        names = reversed.slice(0, opts.steps ?? 1);
      }
    }
    return names.map(name => ({ name, path: byName.get(name)?.path }));
  }

  protected override async runMigrations(
    method: 'up' | 'down',
    options?: string | string[] | MigrateOptions,
  ): Promise<MigrationInfo[]> {
    const report = await this.runWithReport(method, options);
    if (report.status === 'failed') throw report.failure;
    return report.migrations.map(m => ({ name: m.name }));
  }

  /**
   * One locked run: waits for the fleet lock, adopts a legacy database, plans, backs up,
   * applies batch by batch, verifies, logs and records. The report says what happened; a
   * failed run carries its error in `failure` (nothing of the failed batch remains).
   */
  async runWithReport(
    method: 'up' | 'down',
    options?: string | string[] | MigrateOptions,
    { lockTimeoutMs = this.settings.lockTimeoutMs, origin = this.origin }: RunOptions = {},
  ): Promise<MigrationRunReport & { failure?: Error }> {
    // the database must exist to hold a lock in it; everything else happens under the lock
    await (this.config.getExtension('@mikro-orm/schema-generator') as { ensureDatabase(): Promise<boolean> }).ensureDatabase();
    const clientUrl = this.config.get('clientUrl')!;
    const lock = await acquireMigrationLock(clientUrl, lockTimeoutMs, {
      operation: `migration ${method}`,
      origin,
      onWait: holder => this.#log('info', `Waiting for the migration lock: ${holder}`),
    });
    await this.init();
    this.#stopRequested = false;
    const started = Date.now();
    const report: MigrationRunReport & { failure?: Error } = {
      method,
      origin,
      status: 'nothing to do',
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      migrations: [],
    };
    try {
      if (method === 'up') await this.adoptDeployedDatabase();
      const planned = await this.plan(method, options);
      if (planned.length === 0) return report;
      await lock.announce({ migrations: planned.map(m => m.name) });
      this.#log('info', `${method === 'up' ? 'Applying' : 'Reverting'} ${planned.length} migration(s): ${planned.map(m => m.name).join(', ')}`);
      if (this.settings.backup) {
        const backup = await backupDatabase(clientUrl, this.settings.backup.dir, this.settings.backup.keep, `before-${method}-${planned[0].name}`);
        report.backupFile = backup.file;
        this.#log('info', `Backed up to ${backup.file} (${backup.bytes} bytes, ${backup.entries} entries readable)`);
      }
      const countsBefore = await countRows(this.query, SERVICE_TABLES);
      try {
        for (const batch of await this.batch(planned)) {
          if (this.#stopRequested) {
            this.#log('warn', `Stopping before ${batch[0].name}: shutdown requested`);
            break;
          }
          report.migrations.push(...(await this.runBatch(method, batch)));
        }
        report.status = 'applied';
      } catch (error) {
        report.status = 'failed';
        report.failure = error as Error;
        report.error = (error as Error).message;
        this.#log('error', report.error);
      }
      if (report.migrations.length > 0) {
        report.verification = await this.verify(countsBefore);
        const summary = report.verification.checks.map(check => `${check.name}: ${check.ok ? 'ok' : 'FAILED'} (${check.detail})`).join('; ');
        this.#log(report.verification.ok ? 'info' : 'error', `Verification ${report.verification.ok ? 'passed' : 'FAILED'}: ${summary}`);
      }
      return report;
    } finally {
      report.durationMs = Date.now() - started;
      if (report.status !== 'nothing to do') {
        await this.recordRun(report).catch(error => this.#log('warn', `Could not record the run: ${(error as Error).message}`));
      }
      await lock.release();
    }
  }

  // One batch: in one transaction with a short lock_timeout, retried with backoff when the
  // DDL could not get its lock in time; or, for a non-transactional migration, alone.
  private async runBatch(method: 'up' | 'down', batch: PlannedMigration[]): Promise<Array<{ name: string; durationMs: number }>> {
    const names = batch.map(m => m.name);
    const timings: Array<{ name: string; durationMs: number }> = [];
    let started = 0;
    let current = names[0];
    const before = (event: MigrationInfo) => void ((started = performance.now()), (current = event.name));
    const after = (event: MigrationInfo) => {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      timings.push({ name: event.name, durationMs });
      this.#log('info', `${method === 'up' ? 'Applied' : 'Reverted'} ${event.name} in ${durationMs} ms`, { migration: event.name, durationMs });
    };
    const [beforeEvent, afterEvent] = method === 'up' ? (['migrating', 'migrated'] as const) : (['reverting', 'reverted'] as const);
    this.on(beforeEvent, before);
    this.on(afterEvent, after);
    const ran: MigrationBatch = { method, migrations: names };
    const connection = this.driver.getConnection();
    try {
      if (!batch[0].transactional) {
        await super.runMigrations(method, names);
        await this.notifyBatchListeners(listener => listener.beforeCommit?.(ran, (sql, params) => connection.execute(sql, params)));
      } else {
        for (let attempt = 0; ; attempt++) {
          timings.length = 0;
          try {
            await this.inTransaction(async trx => {
              await connection.execute(`set local lock_timeout = ${Math.max(1, this.settings.ddlLockTimeoutMs)}`, [], 'run', trx);
              // if this process dies mid-batch, PostgreSQL notices within a second and rolls back
              await connection.execute(`set local client_connection_check_interval = 1000`, [], 'run', trx);
              await super.runMigrations(method, names);
              await this.notifyBatchListeners(listener => listener.beforeCommit?.(ran, (sql, params) => connection.execute(sql, params, 'all', trx)));
            });
            break;
          } catch (error) {
            if (!isLockTimeout(error) || attempt >= this.settings.ddlRetries) throw error;
            const wait = Math.min(200 * 2 ** attempt, 5_000) + Math.floor(Math.random() * 100);
            this.#log('warn', `${current} could not get its lock within ${this.settings.ddlLockTimeoutMs} ms (a long transaction holds it); retry ${attempt + 1} of ${this.settings.ddlRetries} in ${wait} ms`);
            await sleep(wait);
          }
        }
      }
    } catch (error) {
      await this.notifyBatchListeners(listener => listener.afterFailure?.(ran, error));
      throw new MigrationFailedError(current, method, error);
    } finally {
      this.off(beforeEvent, before);
      this.off(afterEvent, after);
    }
    await this.notifyBatchListeners(listener => listener.afterCommit?.(ran));
    return timings;
  }

  private async notifyBatchListeners(call: (listener: MigrationBatchListener) => Promise<void> | undefined): Promise<void> {
    for (const listener of [...this.#batchListeners]) await call(listener);
  }

  private async recordRun(report: MigrationRunReport): Promise<void> {
    await this.query(`create table if not exists ${MIGRATION_RUNS_TABLE} (
      id bigserial primary key,
      method varchar(4) not null,
      status varchar(16) not null,
      started_at timestamptz not null,
      duration_ms integer not null,
      migrations jsonb not null,
      backup_file text,
      verification jsonb,
      error text,
      host text not null,
      pid integer not null,
      origin text
    )`);
    // a run log created before runs recorded who started them
    await this.query(`alter table ${MIGRATION_RUNS_TABLE} add column if not exists origin text`);
    await this.query(
      `insert into ${MIGRATION_RUNS_TABLE} (method, origin, status, started_at, duration_ms, migrations, backup_file, verification, error, host, pid)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        report.method,
        report.origin,
        report.status,
        report.startedAt,
        report.durationMs,
        JSON.stringify(report.migrations),
        report.backupFile ?? null,
        report.verification ? JSON.stringify(report.verification) : null,
        report.error ?? null,
        hostname(),
        process.pid,
      ],
    );
  }

  /** The recorded runs, newest first, `limit` at a time, older than the run `before`. */
  async listRuns({ limit, before }: { limit: number; before?: string }): Promise<KeysetPage<RecordedRun>> {
    const [{ exists }] = await this.query(`select to_regclass(?) is not null as exists`, [MIGRATION_RUNS_TABLE]);
    if (!exists) return { items: [], nextCursor: null };
    const rows = await this.query(
      `select id::text, method, origin, status, started_at, duration_ms, migrations, backup_file, verification, error, host, pid
         from ${MIGRATION_RUNS_TABLE} ${before === undefined ? '' : 'where id < ?'} order by id desc limit ?`,
      before === undefined ? [limit + 1] : [before, limit + 1],
    );
    return keysetPage(
      rows,
      limit,
      (row): RecordedRun => ({
        id: row.id,
        method: row.method,
        origin: row.origin,
        status: row.status,
        startedAt: new Date(row.started_at).toISOString(),
        durationMs: row.duration_ms,
        migrations: row.migrations,
        backupFile: row.backup_file,
        verification: row.verification,
        error: row.error,
        host: row.host,
        pid: row.pid,
      }),
    );
  }

  // What the entities expect: their foreign keys and indexes, by name.
  private expectedSchema(): ExpectedSchema {
    const target = (this.config.getExtension('@mikro-orm/schema-generator') as { getTargetSchema(): any }).getTargetSchema();
    const expected: ExpectedSchema = { foreignKeys: [], indexes: [] };
    for (const table of target.getTables()) {
      for (const fk of Object.values(table.getForeignKeys()) as Array<{ constraintName: string; referencedTableName: string }>) {
        expected.foreignKeys.push({ table: table.name, name: fk.constraintName, referencedTable: fk.referencedTableName.split('.').pop()! });
      }
      for (const index of table.getIndexes() as Array<{ keyName: string }>) {
        expected.indexes.push({ table: table.name, name: index.keyName });
      }
    }
    return expected;
  }

  private query: QueryRunner = (sql, params = []) => this.driver.getConnection().execute(sql, params);

  // Consecutive transactional migrations share one transaction; a non-transactional one runs alone.
  private async batch(planned: MigrationInfo[]): Promise<PlannedMigration[][]> {
    const batches: PlannedMigration[][] = [];
    for (const info of planned) {
      const migration = { ...info, transactional: await this.isTransactional(info) };
      const last = batches.at(-1);
      if (migration.transactional && last?.[0].transactional) last.push(migration);
      else batches.push([migration]);
    }
    return batches;
  }

  private async inTransaction<T>(work: (trx: Transaction) => Promise<T>): Promise<T> {
    return this.driver.getConnection().transactional(async trx => {
      this.runner.setMasterMigration(trx);
      this.storage.setMasterMigration(trx);
      try {
        return await work(trx);
      } finally {
        this.runner.unsetMasterMigration();
        this.storage.unsetMasterMigration();
      }
    });
  }

  private async isTransactional(info: MigrationInfo): Promise<boolean> {
    if (!info.path) return true;
    let transactional = this.#transactional.get(info.name);
    if (transactional === undefined) {
      transactional = (await this.instantiate(info.path)).isTransactional();
      this.#transactional.set(info.name, transactional);
    }
    return transactional;
  }

  private async instantiate(path: string): Promise<Migration> {
    const module = await import(pathToFileURL(path).href);
    const MigrationClass = Object.values(module).find(value => typeof value === 'function') as new (...args: unknown[]) => Migration;
    return new MigrationClass(this.driver, this.config);
  }

  private resolveName(name: string, byName: Map<string, unknown>): string {
    const bare = name.replace(/\.[jt]s$/, '');
    if (byName.has(bare)) return bare;
    const version = /^\d{14}$/.test(bare) ? [...byName.keys()].find(key => key.startsWith(`Migration${bare}`)) : undefined;
    if (version) return version;
    throw new UnknownMigrationError(name);
  }

  private schemaName(): string {
    return this.config.get('schema') ?? this.driver.getPlatform().getDefaultSchemaName() ?? 'public';
  }
}

/** A concurrent CREATE of the same table: duplicate_table, or the unique index of pg_type. */
function isDuplicateObject(error: unknown): boolean {
  for (let e = error as { code?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '42P07' || (e.code === '23505' && /pg_type_typname_nsp_index/.test(e.message ?? ''))) return true;
    if (/already exists|pg_type_typname_nsp_index/.test(e.message ?? '')) return true;
  }
  return false;
}

/** PostgreSQL's lock_not_available: a `lock_timeout` expired. */
function isLockTimeout(error: unknown): boolean {
  for (let e = error as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '55P03') return true;
  }
  return false;
}

/**
 * The MikroORM extension that registers `Migrator` (an EnerlinkMigrator or a subclass) with
 * these settings. The class it returns is named `Migrator` so that MikroORM's extension
 * loader sees a migrator is configured and does not register its own over it.
 */
export function migratorExtension(settings: MigrationSettings, Migrator: typeof EnerlinkMigrator = EnerlinkMigrator) {
  return class Migrator_ {
    static readonly name = 'Migrator';
    static register(orm: MikroORM): void {
      orm.config.registerExtension('@mikro-orm/migrator', () => {
        const migrator = new Migrator(orm.em as any);
        migrator.settings = settings;
        return migrator;
      });
    }
  };
}
