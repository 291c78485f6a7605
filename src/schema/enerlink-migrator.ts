import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { MigrateOptions, MigrationInfo, MikroORM, Transaction } from '@mikro-orm/core';
import { Migrator as MikroOrmMigrator, type Migration } from '@mikro-orm/migrations';
import { diffSchemaFingerprints, readSchemaFingerprint, type QueryRunner, type SchemaFingerprint } from './schema-fingerprint.ts';

/** The migration that creates the deployed prosumer-era schema (the contract). */
export const INITIAL_MIGRATION = 'Migration20241102000000_InitialSchema';
const MIGRATIONS_TABLE = 'mikro_orm_migrations';
/** Tables of enerlink's own machinery, not of the legacy contract: ignored when adopting a database. */
const SERVICE_TABLES = [MIGRATIONS_TABLE, 'cache_outbox'];

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

interface PlannedMigration {
  name: string;
  path?: string;
  transactional: boolean;
}

/**
 * MikroORM's migrator with what a fleet of enerlink databases needs:
 * - adopts a deployed legacy database (no migration history) by checking it against the
 *   contract and recording the initial migration as applied instead of running it;
 * - runs each batch of consecutive transactional migrations in one transaction (all or
 *   nothing) and each non-transactional migration (CREATE INDEX CONCURRENTLY) alone, outside
 *   any transaction, so the two never deadlock;
 * - rejects unknown migration names instead of silently doing nothing.
 *
 * Named `Migrator` so that MikroORM's extension loader sees a migrator is configured and does
 * not register its own over this one.
 */
export const EnerlinkMigrator = class Migrator extends MikroOrmMigrator {
  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/migrator', () => new EnerlinkMigrator(orm.em as any));
  }

  #transactional = new Map<string, boolean>();
  #batchListeners = new Set<MigrationBatchListener>();

  /** Binds `listener` to every batch this migrator runs from now on; returns the function that unbinds it. */
  addBatchListener(listener: MigrationBatchListener): () => void {
    this.#batchListeners.add(listener);
    return () => void this.#batchListeners.delete(listener);
  }

  /** The schema the initial migration creates, read from a scratch schema that is rolled back. */
  async contractFingerprint(): Promise<SchemaFingerprint> {
    const initial = (await this.discoverMigrations()).find(m => m.name === INITIAL_MIGRATION);
    if (!initial?.path) throw new UnknownMigrationError(INITIAL_MIGRATION);
    const migration = await this.instantiate(initial.path);
    migration.reset();
    await migration.up();
    const connection = this.driver.getConnection();
    const scratch = `enerlink_contract_${randomBytes(6).toString('hex')}`;
    const trx = await connection.begin();
    try {
      await connection.execute(`create schema ${scratch}`, [], 'run', trx);
      await connection.execute(`set local search_path to ${scratch}`, [], 'run', trx);
      for (const sql of migration.getQueries()) {
        await connection.execute(sql as string, [], 'run', trx);
      }
      return await readSchemaFingerprint((sql, params) => connection.execute(sql, params, 'all', trx), scratch);
    } finally {
      await connection.rollback(trx);
    }
  }

  /** The shape of the live schema, without the tables of MikroORM's and enerlink's own machinery. */
  async liveFingerprint(): Promise<SchemaFingerprint> {
    const connection = this.driver.getConnection();
    return readSchemaFingerprint((sql, params) => connection.execute(sql, params), this.schemaName(), SERVICE_TABLES);
  }

  /**
   * On a database with tables but no migration history: if it is exactly the legacy
   * contract, record the initial migration as applied; otherwise refuse with the differences.
   * Returns whether the database was adopted.
   */
  async adoptDeployedDatabase(): Promise<boolean> {
    await this.init();
    if ((await this.storage.executed()).length > 0) return false;
    const live = await this.liveFingerprint();
    const contract = await this.contractFingerprint();
    const relevant = new Set([...Object.keys(contract), 'user']);
    const ours = Object.fromEntries(Object.entries(live).filter(([table]) => relevant.has(table)));
    if (Object.keys(ours).length === 0) return false;
    const differences = diffSchemaFingerprints(contract, ours);
    if (differences.length > 0) throw new SchemaContractError(differences);
    await this.storage.logMigration({ name: INITIAL_MIGRATION });
    if (!this.options.silent) {
      this.config.getLogger().log('migrator', `Adopted the deployed legacy schema: recorded '${INITIAL_MIGRATION}' as applied`, { enabled: true });
    }
    return true;
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
        if (!executed.includes(target)) throw new UnknownMigrationError(`${target} (not applied, cannot revert to it)`);
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
    await this.init();
    if (method === 'up') await this.adoptDeployedDatabase();
    const planned = await this.plan(method, options);
    const batches = await this.batch(planned);
    const applied: MigrationInfo[] = [];
    let current: string | undefined;
    const track = (event: MigrationInfo) => void (current = event.name);
    this.on(method === 'up' ? 'migrating' : 'reverting', track);
    try {
      for (const batch of batches) {
        const ran: MigrationBatch = { method, migrations: batch.map(m => m.name) };
        try {
          applied.push(...(await this.runBatch(ran, batch[0].transactional)));
        } catch (error) {
          await this.notifyBatchListeners(listener => listener.afterFailure?.(ran, error));
          throw error;
        }
        await this.notifyBatchListeners(listener => listener.afterCommit?.(ran));
      }
    } catch (error) {
      throw new MigrationFailedError(current ?? 'unknown', method, error);
    } finally {
      this.off(method === 'up' ? 'migrating' : 'reverting', track);
    }
    return applied;
  }

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

  // Runs one batch; the batch listeners' beforeCommit work shares its transaction.
  private async runBatch(batch: MigrationBatch, transactional: boolean): Promise<MigrationInfo[]> {
    const connection = this.driver.getConnection();
    const run = async (execute: QueryRunner) => {
      const ran = await super.runMigrations(batch.method, batch.migrations);
      await this.notifyBatchListeners(listener => listener.beforeCommit?.(batch, execute));
      return ran;
    };
    if (!transactional) return run((sql, params) => connection.execute(sql, params));
    return this.inTransaction(trx => run((sql, params) => connection.execute(sql, params, 'all', trx)));
  }

  private async notifyBatchListeners(call: (listener: MigrationBatchListener) => Promise<void> | undefined): Promise<void> {
    for (const listener of [...this.#batchListeners]) await call(listener);
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
};

export type EnerlinkMigrator = InstanceType<typeof EnerlinkMigrator>;
