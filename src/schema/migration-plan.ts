import { RawQueryFragment, type MigrateOptions, type Transaction } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { INITIAL_MIGRATION } from './adoption.ts';
import { InitialRevertNotConfirmedError, MigrationNotAppliedError, UnknownMigrationError } from './migration-errors.ts';

/**
 * Which migrations to revert: MikroORM's options plus a step count, and `revertInitial` to
 * allow reverting the initial migration (which drops every table) other than by `to: 0`.
 */
export type DownOptions = Omit<MigrateOptions, 'from'> & { steps?: number; revertInitial?: boolean };

/** What selects the migrations of a run: MikroORM's options (or names), plus `steps` for `down`. */
export type RunSelection = string | string[] | MigrateOptions | DownOptions | undefined;

/** What a plan is made from: the migrations this release knows and those the database has. */
export interface MigrationSource {
  /** Every migration of this release, in the order they apply. */
  known(): Promise<Array<{ name: string; path?: string }>>;
  /** The applied migrations' names, in the order they were applied. */
  executed(): Promise<string[]>;
  /** A fresh instance of a known migration. */
  load(name: string): Promise<Migration>;
}

/** One migration of a plan. */
export interface PlannedMigration {
  name: string;
  /** `adopt`: a deployed database that already has its schema: recorded as applied, not run. */
  action: 'apply' | 'revert' | 'adopt';
  /** Whether it runs in a transaction (with the rest of its batch). */
  transactional: boolean;
}

/** Migrations that run together: consecutive transactional ones, or one non-transactional one. */
export interface MigrationBatch {
  method: 'up' | 'down';
  /** In the order they run. */
  migrations: string[];
  transactional: boolean;
}

/**
 * Resolves a run's selection to migrations, in order, and groups them in batches. A run and a
 * dry run share it, so what a dry run shows is what a run does.
 */
export class MigrationPlanner {
  readonly #source: MigrationSource;
  readonly #transactional = new Map<string, boolean>();

  constructor(source: MigrationSource) {
    this.#source = source;
  }

  /**
   * The migrations `method` with `selection` runs, given what is applied (`executed`: the
   * database's history, or what an adoption is about to record).
   */
  async select(method: 'up' | 'down', selection: RunSelection, executed: string[]): Promise<PlannedMigration[]> {
    const all = await this.#source.known();
    const position = new Map(all.map((m, index) => [m.name, index]));
    const resolve = (name: string | number) => resolveName(String(name), position);
    const opts: DownOptions & MigrateOptions =
      typeof selection === 'string' || Array.isArray(selection) ? { migrations: [selection].flat() } : { ...selection };
    const only = opts.migrations?.map(resolve);

    let names: string[];
    if (method === 'up') {
      const done = new Set(executed);
      names = all.map(m => m.name).filter(name => !done.has(name));
      if (only) {
        names = names.filter(name => only.includes(name));
      } else {
        if (opts.from !== undefined && opts.from !== 0) {
          const from = position.get(resolve(opts.from))!;
          names = names.filter(name => position.get(name)! > from);
        }
        if (opts.to !== undefined && opts.to !== 0) {
          const to = position.get(resolve(opts.to))!;
          names = names.filter(name => position.get(name)! <= to);
        }
      }
    } else {
      // a migration a newer release applied is not skipped: reverting it needs that release
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
      // dropping every table is asked for by name or with `to: 0`, never reached by counting steps
      const asked = opts.to === 0 || opts.revertInitial === true || only?.includes(INITIAL_MIGRATION);
      if (names.includes(INITIAL_MIGRATION) && !asked) throw new InitialRevertNotConfirmedError(INITIAL_MIGRATION);
    }
    const action = method === 'up' ? 'apply' : 'revert';
    return Promise.all(names.map(async name => ({ name, action, transactional: await this.isTransactional(name) }) as const));
  }

  /** Consecutive transactional migrations share one batch; a non-transactional one runs alone. */
  batches(method: 'up' | 'down', planned: PlannedMigration[]): MigrationBatch[] {
    const batches: MigrationBatch[] = [];
    for (const migration of planned) {
      const last = batches.at(-1);
      if (migration.transactional && last?.transactional) last.migrations.push(migration.name);
      else batches.push({ method, migrations: [migration.name], transactional: migration.transactional });
    }
    return batches;
  }

  /**
   * The SQL `name`'s `up()` or `down()` would run. The migration builds it inside `trx`, which
   * the caller rolls back, so one that reads (or writes) while it builds leaves no trace.
   */
  async sqlOf(name: string, method: 'up' | 'down', trx: Transaction, format: (sql: string, params: unknown[]) => string): Promise<string[]> {
    return sqlOfMigration(await this.#source.load(name), method, trx, format);
  }

  async isTransactional(name: string): Promise<boolean> {
    let transactional = this.#transactional.get(name);
    if (transactional === undefined) {
      transactional = (await this.#source.load(name)).isTransactional();
      this.#transactional.set(name, transactional);
    }
    return transactional;
  }
}

/** The SQL a migration instance's `up()` or `down()` builds inside `trx` (see MigrationPlanner.sqlOf). */
export async function sqlOfMigration(migration: Migration, method: 'up' | 'down', trx: Transaction, format: (sql: string, params: unknown[]) => string): Promise<string[]> {
  migration.reset();
  migration.setTransactionContext(trx);
  await migration[method]();
  return migration
    .getQueries()
    .map(query => {
      if (typeof query === 'string') return query;
      if (query instanceof RawQueryFragment) return format(query.sql, query.params as unknown[]);
      return query.toString();
    })
    .filter(sql => sql.trim().length > 0);
}

/** A migration's name from its name, file name or 14-digit version; unknown ones are an error. */
function resolveName(name: string, known: Map<string, unknown>): string {
  const bare = name.replace(/\.[jt]s$/, '');
  if (known.has(bare)) return bare;
  const version = /^\d{14}$/.test(bare) ? [...known.keys()].find(key => key.startsWith(`Migration${bare}`)) : undefined;
  if (version) return version;
  throw new UnknownMigrationError(name);
}
