import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { QueryRunner } from '../db/query-runner.ts';
import type { MigrationBatchListener, MigrationLogger } from './batch-executor.ts';
import { acquireMigrationLock } from './fleet-lock.ts';
import { checksumOf, type ChecksumSource, type MigrationChecksums, type MigrationContent, type RecordedChecksum } from './migration-checksums.ts';
import { UnknownMigrationError } from './migration-errors.ts';
import type { Migration } from '@mikro-orm/migrations';
import { sqlOfMigration, type MigrationPlanner, type MigrationSource } from './migration-plan.ts';
import type { MigrationRunLog } from './migration-run-log.ts';

/** An applied migration whose file no longer runs what was applied, or is gone. */
export interface IntegrityProblem {
  migration: string;
  state: 'edited' | 'missing';
  detail: string;
}

/** An `up` refused because an applied migration was edited or deleted since it ran. */
export class MigrationIntegrityError extends Error {
  override name = 'MigrationIntegrityError';
  readonly problems: IntegrityProblem[];
  constructor(problems: IntegrityProblem[]) {
    const [first, ...more] = problems;
    super(
      `Refusing to migrate: applied migration ${first.migration} ${first.detail}` +
        (more.length > 0 ? ` (and ${more.length} more: ${more.map(p => `${p.migration} ${p.state}`).join(', ')})` : '') +
        `; if that is intended, accept it with npm run migration:repair -- ${first.migration} --reason "<why>"`,
    );
    this.problems = problems;
  }
}

/** A repair that has nothing to repair, or may not repair what it was asked to. */
export class RepairRefusedError extends Error {
  override name = 'RepairRefusedError';
}

/** What the files and the database say about every applied migration. */
export interface IntegrityReport {
  /** Known to this release and applied: name -> the checksum of what its file runs now. */
  current: Map<string, string>;
  recorded: Map<string, RecordedChecksum>;
  edited: IntegrityProblem[];
  missing: IntegrityProblem[];
  /** Applied by a newer release (named after every migration this release has): not an error. */
  unknown: string[];
  /** Applied before enerlink kept checksums: recorded by the next `up`. */
  unrecorded: string[];
}

/** What a repair did, as the run log records it. */
export interface RepairResult {
  migration: string;
  action: 'accepted edit' | 'forgot missing';
  previousChecksum: string | null;
  checksum: string | null;
}

/**
 * Keeps applied migrations honest: records the checksum of what each migration runs when it
 * is applied or adopted (in the batch's own transaction), refuses an `up` when an applied
 * migration was edited or deleted since, and lets an operator accept such a change (`repair`).
 */
export class MigrationIntegrity {
  readonly #source: MigrationSource;
  readonly #planner: MigrationPlanner;
  readonly #connection: AbstractSqlConnection;
  readonly #formatSql: (sql: string, params: unknown[]) => string;
  readonly #checksums: MigrationChecksums;
  readonly #runLog: MigrationRunLog;
  readonly #clientUrl: string;
  readonly #migrationsTable: string;
  /** Checksums of the migrations the run in progress applies, found before its first batch. */
  #pending = new Map<string, { checksum: string; source: ChecksumSource; recordedBy: string }>();

  constructor(options: {
    source: MigrationSource;
    planner: MigrationPlanner;
    connection: AbstractSqlConnection;
    formatSql: (sql: string, params: unknown[]) => string;
    checksums: MigrationChecksums;
    runLog: MigrationRunLog;
    clientUrl: string;
    migrationsTable: string;
  }) {
    this.#source = options.source;
    this.#planner = options.planner;
    this.#connection = options.connection;
    this.#formatSql = options.formatSql;
    this.#checksums = options.checksums;
    this.#runLog = options.runLog;
    this.#clientUrl = options.clientUrl;
    this.#migrationsTable = options.migrationsTable;
  }

  /**
   * What each migration runs (its SQL built inside one transaction that is rolled back, so a
   * migration that reads while it builds leaves no trace).
   */
  async contentsOf(names: string[]): Promise<Map<string, MigrationContent>> {
    const contents = new Map<string, MigrationContent>();
    if (names.length === 0) return contents;
    const trx = await this.#connection.begin();
    try {
      for (const name of names) {
        const up = await this.#planner.sqlOf(name, 'up', trx, this.#formatSql);
        // MikroORM's default down() throws: that migration cannot be reverted
        const down = await this.#planner.sqlOf(name, 'down', trx, this.#formatSql).catch(() => null);
        contents.set(name, { transactional: await this.#planner.isTransactional(name), up, down });
      }
    } finally {
      await this.#connection.rollback(trx);
    }
    return contents;
  }

  /** What a migration that is no known one (a file just written elsewhere) runs. */
  async contentOfMigration(load: () => Promise<Migration>): Promise<MigrationContent> {
    const trx = await this.#connection.begin();
    try {
      const up = await sqlOfMigration(await load(), 'up', trx, this.#formatSql);
      const down = await sqlOfMigration(await load(), 'down', trx, this.#formatSql).catch(() => null);
      return { transactional: (await load()).isTransactional(), up, down };
    } finally {
      await this.#connection.rollback(trx);
    }
  }

  async checksumsOf(names: string[]): Promise<Map<string, string>> {
    const contents = await this.contentsOf(names);
    return new Map([...contents].map(([name, content]) => [name, checksumOf(content)]));
  }

  /** Compares every applied migration with its file; takes no lock and changes nothing. */
  async inspect(): Promise<IntegrityReport> {
    const [known, executed, recorded] = await Promise.all([this.#source.known(), this.#source.executed(), this.#checksums.all()]);
    const knownNames = new Set(known.map(m => m.name));
    const newestKnown = known.map(m => m.name).sort().at(-1);
    const applied = executed.filter(name => knownNames.has(name));
    const current = await this.checksumsOf(applied);
    const report: IntegrityReport = { current, recorded, edited: [], missing: [], unknown: [], unrecorded: [] };
    for (const name of executed) {
      if (knownNames.has(name)) {
        const before = recorded.get(name);
        if (!before) report.unrecorded.push(name);
        else if (before.checksum !== current.get(name)) {
          report.edited.push({
            migration: name,
            state: 'edited',
            detail: `was edited after it was applied: it runs other SQL now (checksum ${short(current.get(name)!)}, recorded ${short(before.checksum)} on ${before.recordedAt.toISOString()})`,
          });
        }
      } else if (newestKnown === undefined || name > newestKnown) {
        // named after every migration of this release: a newer release applied it (a rolling deploy)
        report.unknown.push(name);
      } else {
        report.missing.push({ migration: name, state: 'missing', detail: 'is applied but its file is gone from this release' });
      }
    }
    return report;
  }

  /**
   * Before a run's first batch, under the migration lock: an `up` is refused when an applied
   * migration was edited or deleted; migrations applied before checksums were kept get theirs
   * (with a note); the checksums of what this run applies are found, to be recorded in each
   * batch's transaction.
   */
  async beforeRun(method: 'up' | 'down', run: { adopt: string[]; apply: string[] }, origin: string, log: MigrationLogger): Promise<void> {
    this.#pending.clear();
    if (method !== 'up') return;
    await this.#checksums.ready();
    const report = await this.inspect();
    const problems = [...report.edited, ...report.missing];
    if (problems.length > 0) throw new MigrationIntegrityError(problems);
    if (report.unrecorded.length > 0) {
      await this.#checksums.record(
        this.#query,
        report.unrecorded.map(name => ({ name, checksum: report.current.get(name)!, recordedBy: origin, source: 'backfill' })),
      );
      log(
        'warn',
        `Recorded the checksums of ${report.unrecorded.length} migration(s) applied before enerlink kept checksums, as their files are now: ${report.unrecorded.join(', ')}`,
      );
    }
    const checksums = await this.checksumsOf([...run.adopt, ...run.apply]);
    for (const name of run.adopt) this.#pending.set(name, { checksum: checksums.get(name)!, source: 'adoption', recordedBy: origin });
    for (const name of run.apply) this.#pending.set(name, { checksum: checksums.get(name)!, source: 'run', recordedBy: origin });
  }

  /** Records the checksums of what a batch applied (forgets those it reverted), with the batch. */
  readonly batchListener: MigrationBatchListener = {
    beforeCommit: async (batch, execute) => {
      if (batch.method === 'down') return this.#checksums.forget(execute, batch.migrations);
      const rows = batch.migrations.flatMap(name => {
        const pending = this.#pending.get(name);
        return pending ? [{ name, ...pending }] : [];
      });
      await this.#checksums.record(execute, rows);
    },
  };

  /**
   * Accepts an intentional change to an applied migration, under the migration lock: an edited
   * one gets the checksum of what its file runs now; a missing one (its file deliberately
   * deleted) is forgotten as applied. Recorded in the run log with who and why.
   */
  async repair(name: string, { by, reason, origin, lockTimeoutMs }: { by: string; reason: string; origin: string; lockTimeoutMs: number }): Promise<RepairResult> {
    const started = Date.now();
    const lock = await acquireMigrationLock(this.#clientUrl, lockTimeoutMs, { operation: `migration repair of ${name}`, origin });
    try {
      await this.#checksums.ready();
      const report = await this.inspect();
      const bare = name.replace(/\.[jt]s$/, '');
      const edited = report.edited.find(p => p.migration === bare);
      const missing = report.missing.find(p => p.migration === bare);
      let result: RepairResult;
      if (edited) {
        const checksum = report.current.get(bare)!;
        result = { migration: bare, action: 'accepted edit', previousChecksum: report.recorded.get(bare)!.checksum, checksum };
        await this.#checksums.record(this.#query, [{ name: bare, checksum, recordedBy: by, source: 'repair' }]);
      } else if (missing) {
        result = { migration: bare, action: 'forgot missing', previousChecksum: report.recorded.get(bare)?.checksum ?? null, checksum: null };
        await this.#connection.transactional(async trx => {
          const execute: QueryRunner = (sql, params = []) => this.#connection.execute(sql, params, 'all', trx);
          await execute(`delete from ${this.#migrationsTable} where name in (?, ?, ?)`, [bare, `${bare}.ts`, `${bare}.js`]);
          await this.#checksums.forget(execute, [bare]);
        });
      } else if (report.unknown.includes(bare)) {
        throw new RepairRefusedError(`${bare} was applied by a newer release (its file is not in this one): nothing to repair here`);
      } else if (report.current.has(bare) || report.unrecorded.includes(bare)) {
        throw new RepairRefusedError(`${bare} matches what was applied: nothing to repair`);
      } else {
        const known = (await this.#source.known()).some(m => m.name === bare);
        if (!known) throw new UnknownMigrationError(name);
        throw new RepairRefusedError(`${bare} is not applied: nothing to repair`);
      }
      await this.#runLog.record({
        method: 'repair',
        origin,
        status: 'applied',
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        migrations: [{ name: bare, durationMs: 0, action: result.action, previousChecksum: result.previousChecksum, checksum: result.checksum }],
        actor: by,
        reason,
      });
      return result;
    } finally {
      await lock.release();
    }
  }

  #query: QueryRunner = (sql, params = []) => this.#connection.execute(sql, params);
}

function short(checksum: string): string {
  return checksum.slice(0, 12);
}
