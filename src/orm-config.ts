import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/core';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { SeedManager } from '@mikro-orm/seeder';
import type { AppConfig } from './config.ts';
import { entities, serviceTables, unmigratedTables } from './entities.ts';
import { EnerlinkMigrator, migratorExtension } from './schema/enerlink-migrator.ts';
import type { MigrationSettings } from './schema/migration-runner.ts';
import { discardBrokenClients } from './db/pg-pool.ts';
import { BatchingClient } from './db/statement-batching.ts';

/** The repository root: migrations/ and seeders/ are found relative to it. */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** How migration runs behave under `config`. */
export function migrationSettings(config: AppConfig): MigrationSettings {
  return {
    lockTimeoutMs: config.migrationLockTimeoutMs,
    ddlLockTimeoutMs: config.migrationDdlLockTimeoutMs,
    ddlRetries: config.migrationDdlRetries,
    backup: config.backupBeforeMigrate ? { dir: config.backupDir, keep: config.backupKeep } : null,
  };
}

/**
 * The one MikroORM configuration (at the top of src/: it composes the entities, the service
 * tables and the migrator, so it belongs to no lower layer), shared by the CLI (`mikro-orm.config.ts`), the app and the
 * tests. `overrides` lets tests point it at their own database.
 */
export function createOrmConfig(
  config: AppConfig,
  overrides: Partial<Options> = {},
  Migrator: typeof EnerlinkMigrator = EnerlinkMigrator,
  Seeder: { register(orm: MikroORM): void } = SeedManager,
): Options {
  const { migrations, ...rest } = overrides;
  return defineConfig({
    clientUrl: config.databaseUrl,
    entities,
    baseDir: projectRoot,
    preferTs: true,
    extensions: [migratorExtension(migrationSettings(config), serviceTables, Migrator), Seeder],
    // the migration run log and the admin audit log have no entity (they are created on first
    // use), and the previous backend's migrations table is kept for audits: migration:check
    // must not drop them
    schemaGenerator: { skipTables: unmigratedTables },
    // A missing database is created on first start (MikroORM `ensureDatabase`), as a
    // developer expects; production databases are provisioned by their operators.
    ensureDatabase: !config.isProduction,
    // pg Pool options (MikroORM 7 hands `driverOptions` to the pool it builds for Kysely): waiting
    // for a connection and every statement are bounded, and a connection that dies while
    // checked out is discarded, so a few dropped sessions can never strand the pool.
    driverOptions: {
      connectionTimeoutMillis: config.databaseAcquireTimeoutMs,
      statement_timeout: config.databaseStatementTimeoutMs,
      idle_in_transaction_session_timeout: config.databaseStatementTimeoutMs,
      // the client side too, for a server that stops answering without closing the socket
      query_timeout: config.databaseStatementTimeoutMs + 1000,
      keepAlive: true,
      onPoolCreated: discardBrokenClients,
      // pg.Client, which can also hold writes for the next statement (`withHeldWrites`)
      Client: BatchingClient,
    },
    migrations: {
      path: 'migrations',
      pathTs: 'migrations',
      glob: 'Migration*.ts',
      // The database, not a snapshot file, is what `migration:check` compares the entities with.
      snapshot: false,
      transactional: true,
      // EnerlinkMigrator makes each batch of transactional migrations all-or-nothing itself and
      // runs CREATE INDEX CONCURRENTLY outside of any transaction.
      allOrNothing: false,
      ...migrations,
    },
    seeder: {
      path: 'seeders',
      pathTs: 'seeders',
      glob: '*Seeder.ts',
      defaultSeeder: 'DatabaseSeeder',
      emit: 'ts',
    },
    ...rest,
  });
}
