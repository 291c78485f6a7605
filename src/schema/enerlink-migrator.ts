import { pathToFileURL } from 'node:url';
import type { MigrateOptions, MikroORM, Transaction } from '@mikro-orm/core';
import { Migrator as MikroOrmMigrator, type Migration } from '@mikro-orm/migrations';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { QueryRunner } from '../db/query-runner.ts';
import { isDuplicateObject } from '../db/service-tables.ts';
import { LegacyAdoption } from './adoption.ts';
import { MigrationChecksums } from './migration-checksums.ts';
import { MigrationIntegrity } from './migration-integrity.ts';
import { MigrationReview } from './migration-review.ts';
import { UnknownMigrationError } from './migration-errors.ts';
import { MigrationPlanner, type MigrationSource } from './migration-plan.ts';
import { MigrationRunLog } from './migration-run-log.ts';
import { MigrationRunner, type MigrationEngine, type MigrationSettings } from './migration-runner.ts';
import type { ExpectedSchema } from './schema-verification.ts';

/** MikroORM's record of executed migrations. */
export const MIGRATIONS_TABLE = 'mikro_orm_migrations';

/**
 * MikroORM's migrator, extended only where it must be: every `up`/`down` (the MikroORM CLI's
 * too) goes through enerlink's locked run (`pipeline`, see MigrationRunner), for which this
 * class is the engine: MikroORM discovers, executes and records the migrations.
 */
export class EnerlinkMigrator extends MikroOrmMigrator implements MigrationSource {
  /** The locked run every entry point shares. */
  readonly pipeline: MigrationRunner;
  /** Checksums of applied migrations: the refusal of an `up` over an edited one, and repair. */
  readonly integrity: MigrationIntegrity;
  /** The record of every run (and repair), which the states read too. */
  readonly runLog: MigrationRunLog;
  /** The lint and the plan of migrations, before they run. */
  readonly review: MigrationReview;
  /** Who starts runs that do not say (`cli` for the MikroORM CLI). */
  protected origin = 'service';

  constructor(em: ConstructorParameters<typeof MikroOrmMigrator>[0], settings: MigrationSettings, serviceTables: readonly string[]) {
    super(em);
    const connection = this.driver.getConnection() as unknown as AbstractSqlConnection;
    const query: QueryRunner = (sql, params = []) => connection.execute(sql, params);
    const schema = this.config.get('schema') ?? this.driver.getPlatform().getDefaultSchemaName() ?? 'public';
    const engine = this.#engine(connection);
    const planner = new MigrationPlanner(this);
    const runLog = (this.runLog = new MigrationRunLog(query));
    this.integrity = new MigrationIntegrity({
      source: this,
      planner,
      connection,
      formatSql: engine.formatSql,
      checksums: new MigrationChecksums(query),
      runLog,
      clientUrl: engine.clientUrl,
      migrationsTable: MIGRATIONS_TABLE,
    });
    this.review = new MigrationReview(this, this.integrity, query);
    this.pipeline = new MigrationRunner({
      engine,
      planner,
      adoption: new LegacyAdoption(this, connection, schema, [MIGRATIONS_TABLE, ...serviceTables]),
      integrity: this.integrity,
      runLog,
      settings,
      serviceTables: [MIGRATIONS_TABLE, ...serviceTables],
      log: (level, message) => {
        if (!this.options.silent || level !== 'info') this.config.getLogger().log('migrator', message, { enabled: true });
      },
    });
  }

  #initializing: Promise<void> | undefined;

  // MikroORM creates its migrations table with a check-then-create: callers of one process
  // share one initialization, and of processes starting together (a readiness probe, the CLI)
  // the loser of the race finds the table there.
  protected override init(): Promise<void> {
    this.#initializing ??= (async () => {
      try {
        await super.init();
      } catch (error) {
        if (!isDuplicateObject(error)) throw error;
        await this.storage.ensureTable?.();
      }
    })().catch(error => {
      this.#initializing = undefined;
      throw error;
    });
    return this.#initializing;
  }

  protected override async runMigrations(method: 'up' | 'down', options?: string | string[] | MigrateOptions) {
    const report = await this.pipeline.run(method, options, { origin: this.origin });
    if (report.failure) throw report.failure;
    return report.migrations.map(m => ({ name: m.name }));
  }

  #known: Promise<Array<{ name: string; path?: string }>> | undefined;

  /** MigrationSource: this release's migrations (the folder is read once per process). */
  known(): Promise<Array<{ name: string; path?: string }>> {
    this.#known ??= this.init()
      .then(() => this.discoverMigrations())
      .then(all => all.map(m => ({ name: m.name, path: m.path })))
      .catch(error => {
        this.#known = undefined;
        throw error;
      });
    return this.#known;
  }

  /** MigrationSource: the database's history, in order. */
  async executed(): Promise<string[]> {
    return (await this.history()).map(row => row.name);
  }

  /**
   * The applied migrations with when, oldest first. Read on the pool, never in a run's open
   * batch transaction (MikroORM's storage would join it): a readiness probe during this
   * instance's own run must neither see its uncommitted rows nor disturb its transaction.
   */
  async history(): Promise<Array<{ name: string; executedAt: Date }>> {
    await this.init();
    const rows = await this.driver.getConnection().execute<Array<{ name: string; executed_at: Date }>>(`select name, executed_at from ${MIGRATIONS_TABLE} order by id`);
    return rows.map(row => ({ name: row.name.replace(/\.[jt]s$/, ''), executedAt: new Date(row.executed_at) }));
  }

  /** MigrationSource: a fresh instance of a known migration. */
  async load(name: string): Promise<Migration> {
    const path = (await this.known()).find(m => m.name === name)?.path;
    if (!path) throw new UnknownMigrationError(name);
    return this.loadFile(path);
  }

  /** A fresh instance of the migration class a file exports (imported once per process). */
  async loadFile(path: string): Promise<Migration> {
    const module = await import(pathToFileURL(path).href);
    const MigrationClass = Object.values(module).find(value => typeof value === 'function') as new (...args: unknown[]) => Migration;
    return new MigrationClass(this.driver, this.config);
  }

  #engine(connection: AbstractSqlConnection): MigrationEngine {
    const schemaGenerator = () => this.config.getExtension('@mikro-orm/schema-generator') as { ensureDatabase(): Promise<boolean>; getTargetSchema(): any };
    return {
      clientUrl: this.config.get('clientUrl')!,
      connection,
      prepare: async () => {
        await schemaGenerator().ensureDatabase();
        await this.init();
      },
      executed: () => this.executed(),
      record: async names => {
        for (const name of names) await this.storage.logMigration({ name });
      },
      execute: async (method, names) => {
        await super.runMigrations(method, names);
      },
      inTransaction: work => this.#inTransaction(work),
      onEachMigration: (method, started, finished) => {
        const [before, after] = method === 'up' ? (['migrating', 'migrated'] as const) : (['reverting', 'reverted'] as const);
        const onStart = (event: { name: string }) => started(event.name);
        const onFinish = (event: { name: string }) => finished(event.name);
        this.on(before, onStart);
        this.on(after, onFinish);
        return () => {
          this.off(before, onStart);
          this.off(after, onFinish);
        };
      },
      expectedSchema: () => expectedSchemaOf(schemaGenerator().getTargetSchema()),
      formatSql: (sql, params) => this.driver.getPlatform().formatQuery(sql, params as any[]),
    };
  }

  async #inTransaction<T>(work: (trx: Transaction) => Promise<T>): Promise<T> {
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
}

// What the entities expect: their foreign keys and indexes, by name.
function expectedSchemaOf(target: any): ExpectedSchema {
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

/**
 * The MikroORM extension that registers `Migrator` (an EnerlinkMigrator) with these settings.
 * The class it returns is named `Migrator` so that MikroORM's extension loader sees a
 * migrator is configured and does not register its own over it.
 */
export function migratorExtension(settings: MigrationSettings, serviceTables: readonly string[], Migrator: typeof EnerlinkMigrator = EnerlinkMigrator) {
  return class Migrator_ {
    static readonly name = 'Migrator';
    static register(orm: MikroORM): void {
      orm.config.registerExtension('@mikro-orm/migrator', () => new Migrator(orm.em as any, settings, serviceTables));
    }
  };
}

/** The ORM's migrator, checked to be the EnerlinkMigrator the configuration registers. */
export function migratorOf(orm: MikroORM): EnerlinkMigrator {
  const migrator = orm.migrator;
  if (!(migrator instanceof EnerlinkMigrator)) throw new TypeError('the ORM was not configured with createOrmConfig: its migrator is not enerlink\'s');
  return migrator;
}
