import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { Transaction } from '@mikro-orm/core';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { QueryRunner } from '../db/query-runner.ts';
import type { AdoptionPlan } from './adoption.ts';
import { isLockTimeout, MigrationFailedError, SchemaContractError } from './migration-errors.ts';
import type { MigrationBatch } from './migration-plan.ts';
import { rowsDeletedInTransaction, type ExpectedSchema, type RowsDeleted } from './schema-verification.ts';

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
 * Executes the batches of a run: each transactional batch in one transaction with a short
 * `lock_timeout`, retried with backoff when its DDL could not get its lock in time (so live
 * traffic never queues long behind a waiting ALTER), with the batch listeners as the one seam
 * for work that must commit or roll back with the schema change.
 */
export class BatchExecutor {
  readonly #engine: MigrationEngine;
  readonly #settings: MigrationSettings;
  readonly #log: () => MigrationLogger;
  readonly #listeners: ReadonlySet<MigrationBatchListener>;

  constructor(engine: MigrationEngine, settings: MigrationSettings, listeners: ReadonlySet<MigrationBatchListener>, log: () => MigrationLogger) {
    this.#engine = engine;
    this.#settings = settings;
    this.#listeners = listeners;
    this.#log = log;
  }

  // Records what is already there as applied, after reconciling what differs, as one batch:
  // the reconciled schema is checked inside the transaction, so a surprise commits nothing.
  async adopt(adoption: AdoptionPlan, rowsDeleted: RowsDeleted): Promise<void> {
    const names = adoption.adopt.map(migration => migration.name);
    const sql = adoption.adopt.flatMap(migration => migration.sql);
    const batch: MigrationBatch = { method: 'up', migrations: names, transactional: true };
    const started = performance.now();
    await this.#inBatchTransaction(batch, rowsDeleted, async trx => {
      const query: QueryRunner = (text, params = []) => this.#engine.connection.execute(text, params, 'all', trx);
      for (const statement of sql) await query(statement);
      const differences = await adoption.differences(query);
      if (differences.length > 0) throw new SchemaContractError(differences);
      await this.#engine.record(names);
    });
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    this.#log()(
      'info',
      `Adopted ${adoption.state}: recorded ${names.join(', ')} as applied${sql.length ? `, after ${sql.length} reconciling statement(s)` : ''}, in ${durationMs} ms`,
      { state: adoption.state, migrations: names, sql, durationMs },
    );
  }

  // One batch: in one transaction with a short lock_timeout, retried with backoff when the DDL
  // could not get its lock in time; or, for a non-transactional migration, alone.
  async run(batch: MigrationBatch, rowsDeleted: RowsDeleted): Promise<Array<{ name: string; durationMs: number }>> {
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
        this.#log()('info', `${method === 'up' ? 'Applied' : 'Reverted'} ${name} in ${durationMs} ms`, { migration: name, durationMs });
      },
    );
    try {
      if (!batch.transactional) {
        try {
          await this.#engine.execute(method, names);
          await this.#notify(listener => listener.beforeCommit?.(batch, (sql, params = []) => this.#engine.connection.execute(sql, params)));
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
            // a long data migration is not a stuck client: DATABASE_STATEMENT_TIMEOUT_MS is for traffic
            await execute(`set local statement_timeout = 0`);
            await work(trx);
            await this.#notify(listener => listener.beforeCommit?.(batch, execute));
            Object.assign(rowsDeleted, mergeCounts(rowsDeleted, await rowsDeletedInTransaction(execute)));
          });
          break;
        } catch (error) {
          if (!isLockTimeout(error) || attempt >= this.#settings.ddlRetries) throw error;
          const wait = Math.min(200 * 2 ** attempt, 5_000) + Math.floor(Math.random() * 100);
          this.#log()(
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
}

function mergeCounts(a: RowsDeleted, b: RowsDeleted): RowsDeleted {
  const merged = { ...a };
  for (const [table, count] of Object.entries(b)) merged[table] = (merged[table] ?? 0) + count;
  return merged;
}
