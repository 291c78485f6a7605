import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import { buildApp } from '../src/app.ts';
import { loadConfig, type AppConfig } from '../src/config.ts';
import { createOrm } from '../src/orm.ts';
import { createRedis } from '../src/db/redis.ts';
import { firstUseTables } from '../src/entities.ts';
import { applyReferenceData } from '../src/lifecycle/schema-lifecycle.ts';
import { MIGRATIONS_TABLE, migratorOf } from '../src/schema/enerlink-migrator.ts';
import { readSchemaFingerprint, type SchemaFingerprint } from '../src/schema/schema-fingerprint.ts';

/** The customer's contract: the schema of the deployed prosumer-era databases. */
export const LEGACY_SCHEMA_SQL = readFileSync(new URL('./fixtures/customer/legacy-schema.sql', import.meta.url), 'utf8');

const baseConfig = loadConfig({ ...process.env, NODE_ENV: 'test' });

/** A database of the test's own, created on demand and dropped by `drop()`. */
export interface TestDatabase {
  name: string;
  url: string;
  config: AppConfig;
  query: (sql: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;
  /** A session of the test's own (to hold a lock or a transaction); give it back with `release()`. */
  connect: () => Promise<pg.PoolClient>;
  fingerprint: () => Promise<SchemaFingerprint>;
  drop: () => Promise<void>;
}

function urlFor(database: string): string {
  const url = new URL(baseConfig.databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `sql` on the `postgres` maintenance database (for what cannot run inside a test database). */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates an empty database named after `label` (or only names one, with `create: false`). */
export async function createTestDatabase(label: string, { create = true } = {}): Promise<TestDatabase> {
  const name = `enerlink_test_${label}_${randomBytes(4).toString('hex')}`.toLowerCase();
  if (create) await adminQuery(`create database ${name}`);
  const url = urlFor(name);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  const query = async (sql: string, params: unknown[] = []) => {
    let index = 0;
    const text = params.length ? sql.replace(/\?/g, () => `$${++index}`) : sql;
    return (await pool.query(text, params)).rows;
  };
  return {
    name,
    url,
    // the database's name is also the test's own Redis key prefix, so test files never share keys
    config: loadConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: url, CACHE_PREFIX: name }),
    query,
    connect: () => pool.connect(),
    // everything the migrations create; not the migrators' own bookkeeping
    fingerprint: () => readSchemaFingerprint(query, 'public', [MIGRATIONS_TABLE, ...firstUseTables]),
    drop: async () => {
      await pool.end();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

/** A database in the deployed legacy shape, built straight from the contract file. */
export async function createLegacyDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  await db.query(LEGACY_SCHEMA_SQL);
  return db;
}

/** An ORM on the test database, with MikroORM's own console output silenced; `migrationsPath`: a folder of the test's own. */
export async function createTestOrm(db: TestDatabase, config: AppConfig = db.config, migrationsPath?: string): Promise<MikroORM> {
  return createOrm(config, { migrations: { silent: true, ...(migrationsPath && { path: migrationsPath, pathTs: migrationsPath }) } });
}

/**
 * Builds the app on the test database (`config` may change other settings, e.g. point it at
 * another Redis); close it with `app.close()`. Two calls give two instances of the service.
 */
export async function buildTestApp(db: TestDatabase, config: AppConfig = db.config, migrationsPath?: string): Promise<FastifyInstance> {
  const orm = await createTestOrm(db, config, migrationsPath);
  await orm.connect();
  const redis = createRedis(config);
  await redis.connect().catch(() => {});
  return buildApp({ config, orm, redis });
}

/**
 * Migrates the test database to the latest schema and applies the shipped reference seeders, as
 * a starting service does (MIGRATIONS_RUN, REFERENCE_SEED_RUN): the tests trade with the default
 * limits the reference data holds.
 */
export async function migrateTestDatabase(orm: MikroORM): Promise<void> {
  await migratorOf(orm).up();
  await applyReferenceData(orm.em.fork());
}
