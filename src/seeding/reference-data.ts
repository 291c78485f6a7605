import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EntityManager } from '@mikro-orm/core';
import type { PoolClient } from 'pg';
import type { QueryRunner } from '../db/query-runner.ts';
import type { ServiceTable } from '../db/service-tables.ts';
import { acquireMigrationLock } from '../schema/fleet-lock.ts';
import { inSeedTransaction, queryRunnerOf } from './seed-transaction.ts';

/**
 * Reference data that production needs (unlike fixtures): each reference seeder is applied once
 * and recorded with the checksum of its file, like a migration. A seeder whose file changed after
 * it was applied is reported, never run again silently: the data it wrote may have been edited
 * since, so a change is a new reference seeder.
 */
export const REFERENCE_SEEDS_TABLE: ServiceTable = {
  name: 'enerlink_reference_seed',
  create: [
    `create table if not exists enerlink_reference_seed (
      name varchar(200) primary key,
      checksum char(64) not null,
      applied_at timestamptz not null default now(),
      duration_ms integer not null
    )`,
  ],
};

/** Where the shipped reference seeders are: seed:reference and startup apply these. */
export const REFERENCE_SEEDERS_FOLDER = fileURLToPath(new URL('../../seeders/reference', import.meta.url));

/** The fleet lock a run takes (startup, seed:reference): the one migrations take, so it never runs beside a migration. */
export interface FleetLockOptions {
  databaseUrl: string;
  timeoutMs: number;
  /** Who runs it: `startup`, `cli`, ... */
  origin: string;
}

/** What a reference seeder file exports as `referenceSeeder`. */
export interface ReferenceSeeder {
  /** Writes the data in the run's transaction; `execute` takes `?` placeholders. */
  apply(execute: QueryRunner): Promise<void>;
}

/** One reference seeder file of the folder, in name order. */
interface ReferenceSeederFile {
  name: string;
  checksum: string;
  path: string;
}

/** What a run did with each reference seeder. */
export interface ReferenceReport {
  applied: string[];
  unchanged: string[];
  /** Applied before with another checksum: reported, not run again. */
  changed: Array<{ name: string; appliedAt: Date; recorded: string; current: string }>;
}

/** The folder's reference seeders (`*.ts`, in name order) and their checksums (of the file's text). */
export function referenceSeedersIn(folder: string): ReferenceSeederFile[] {
  return referenceSeederNamesIn(folder).map(name => {
    const path = join(folder, `${name}.ts`);
    const text = readFileSync(path, 'utf8').replace(/\r\n/g, '\n');
    return { name, checksum: createHash('sha256').update(text).digest('hex'), path };
  });
}

/** The names of the folder's reference seeders (`*.ts` without the extension), in name order; none for a missing folder. */
function referenceSeederNamesIn(folder: string): string[] {
  try {
    return readdirSync(folder).filter(name => name.endsWith('.ts')).sort().map(name => name.replace(/\.ts$/, ''));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Applies the reference seeders of `folder` not applied yet, each in a transaction of its own
 * with its record (and `beforeCommit`: the lifecycle records the data change for the caches), under
 * the seed lock, so instances starting together apply each exactly once; with `fleetLock`, the
 * whole run also holds the fleet's migration lock (startup and seed:reference), so it never
 * runs beside a migration. A seeder that fails, or a session that dies, rolls back its
 * transaction: neither its rows nor its record stay. Allowed in production: that is what
 * reference data is for.
 */
export async function applyReferenceSeeders(
  em: EntityManager,
  folder: string,
  context: { beforeCommit?: (execute: QueryRunner) => Promise<void>; fleetLock?: FleetLockOptions } = {},
): Promise<ReferenceReport> {
  const files = referenceSeedersIn(folder);
  if (files.length === 0) return { applied: [], unchanged: [], changed: [] };
  const { fleetLock } = context;
  if (!fleetLock) {
    await em.getConnection().execute('select 1'); // through the ORM first (see inSeedTransaction)
    return applyFiles(em, files, context.beforeCommit);
  }
  // the usual start of an instance: everything applied already, known from one read without the lock
  const settled = await settledWithoutLock(em, files);
  if (settled) return settled;
  const lock = await acquireMigrationLock(fleetLock.databaseUrl, fleetLock.timeoutMs, { operation: 'reference seeding', origin: fleetLock.origin });
  try {
    return await applyFiles(em, files, context.beforeCommit);
  } finally {
    await lock.release();
  }
}

async function applyFiles(em: EntityManager, files: ReferenceSeederFile[], beforeCommit: ((execute: QueryRunner) => Promise<void>) | undefined): Promise<ReferenceReport> {
  const report: ReferenceReport = { applied: [], unchanged: [], changed: [] };
  for (const file of files) {
    await inSeedTransaction(
      em,
      async client => {
        const recorded = await recordOf(client, file.name);
        if (recorded) {
          if (recorded.checksum === file.checksum) report.unchanged.push(file.name);
          else report.changed.push({ name: file.name, appliedAt: recorded.appliedAt, recorded: recorded.checksum, current: file.checksum });
          return;
        }
        const { referenceSeeder } = (await import(pathToFileURL(file.path).href)) as { referenceSeeder?: ReferenceSeeder };
        if (typeof referenceSeeder?.apply !== 'function') throw new Error(`reference seeder ${file.path} exports no referenceSeeder with an apply(execute) function`);
        const started = performance.now();
        await referenceSeeder.apply(queryRunnerOf(client)).catch((error: Error) => {
          throw new Error(`reference seeder ${file.name} failed, nothing of it was applied: ${error.message}`, { cause: error });
        });
        await client.query('insert into enerlink_reference_seed (name, checksum, duration_ms) values ($1, $2, $3)', [file.name, file.checksum, Math.round(performance.now() - started)]);
        // only a seeder that wrote something retires the caches
        await beforeCommit?.(queryRunnerOf(client));
        report.applied.push(file.name);
      },
    );
  }
  return report;
}

/**
 * The report when every file has a record (applied, or changed since), read in one statement
 * without any lock; undefined when one is pending (or the record table does not exist yet), for
 * the locked run to decide. A record never goes away, so what this sees stays true.
 */
async function settledWithoutLock(em: EntityManager, files: ReferenceSeederFile[]): Promise<ReferenceReport | undefined> {
  const recorded = await recordsWithoutLock(em, files.map(file => file.name));
  if (files.some(file => !recorded.has(file.name))) return undefined;
  const report: ReferenceReport = { applied: [], unchanged: [], changed: [] };
  for (const file of files) {
    const row = recorded.get(file.name)!;
    if (row.checksum === file.checksum) report.unchanged.push(file.name);
    else report.changed.push({ name: file.name, appliedAt: row.appliedAt, recorded: row.checksum, current: file.checksum });
  }
  return report;
}

/**
 * The reference seeders of `folder` not recorded as applied, in name order: one read, no lock,
 * no file read beyond the folder's listing (readiness asks it on every probe).
 */
export async function pendingReferenceSeeders(em: EntityManager, folder: string): Promise<string[]> {
  const names = referenceSeederNamesIn(folder);
  if (names.length === 0) return [];
  const recorded = await recordsWithoutLock(em, names);
  return names.filter(name => !recorded.has(name));
}

/** The records of the seeders `names` in one read, without a lock; none while the table does not exist. */
async function recordsWithoutLock(em: EntityManager, names: string[]): Promise<Map<string, { checksum: string; appliedAt: Date }>> {
  type Row = { name: string; checksum: string; applied_ms: string };
  const rows: Row[] = await em.getConnection().execute<Row[]>(
    `select r.name, r.checksum, (extract(epoch from r.applied_at) * 1000)::bigint::text as applied_ms
       from enerlink_reference_seed r where r.name = any(?::text[])`,
    [`{${names.map(name => `"${name}"`).join(',')}}`],
  ).catch((error: { code?: string }) => {
    if (error.code === '42P01') return [] as Row[]; // undefined_table: nothing was ever applied here
    throw error;
  });
  return new Map(rows.map(row => [row.name, { checksum: row.checksum, appliedAt: new Date(Number(row.applied_ms)) }]));
}

async function recordOf(client: PoolClient, name: string): Promise<{ checksum: string; appliedAt: Date } | undefined> {
  // created in the run's transaction: the seed lock it holds serializes the CREATE
  for (const sql of REFERENCE_SEEDS_TABLE.create) await client.query(sql);
  // epoch milliseconds: the pool hands timestamps over as text
  const { rows } = await client.query<{ checksum: string; applied_ms: string }>(
    'select checksum, (extract(epoch from applied_at) * 1000)::bigint::text as applied_ms from enerlink_reference_seed where name = $1',
    [name],
  );
  return rows[0] && { checksum: rows[0].checksum, appliedAt: new Date(Number(rows[0].applied_ms)) };
}
