import { createHash } from 'node:crypto';
import { tableExists, type QueryRunner } from '../db/query-runner.ts';
import { CACHE_OUTBOX_TABLE } from './cache-outbox.ts';

/**
 * The schema generation: a short hash of the applied migrations, each as `<row id>:<name>` in
 * the order they were applied, and of the latest change recorded in the outbox (a migration
 * run's or a seed's row), if any. Every cache key carries it, so a schema change or a seed
 * retires every entry written before it. The outbox row makes every change a generation never
 * seen before: a revert does not bring back the generation from before the migration it
 * reverts, whose entries may still be in Redis (the purge of a generation is paced, not instant).
 */
export function schemaGeneration(appliedMigrations: ReadonlyArray<{ id: number | string; name: string }>, latestChange?: string | null): string {
  const hash = createHash('sha256');
  for (const { id, name } of appliedMigrations) hash.update(`${id}:${name}\n`);
  if (latestChange) hash.update(`change:${latestChange}\n`);
  return hash.digest('hex').slice(0, 12);
}

/** Reads the schema generation (within a transaction if `execute` runs in one). */
export async function readSchemaGeneration(execute: QueryRunner): Promise<string> {
  const applied = (await tableExists(execute, 'mikro_orm_migrations')) ? await execute('select id, name from mikro_orm_migrations order by id') : [];
  const [dataChange] = (await tableExists(execute, CACHE_OUTBOX_TABLE))
    ? await execute(`select max(id)::text as id from ${CACHE_OUTBOX_TABLE}`)
    : [{ id: null }];
  return schemaGeneration(applied as Array<{ id: number; name: string }>, dataChange.id);
}
