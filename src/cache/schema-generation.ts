import { createHash } from 'node:crypto';
import { tableExists, type QueryRunner } from '../db/query-runner.ts';
import { CACHE_OUTBOX_TABLE } from './cache-outbox.ts';

/**
 * The schema generation: a short hash of the applied migrations, each as `<row id>:<name>` in
 * the order they were applied, and of the latest bulk data change (a seed's outbox row), if any.
 * Every cache key carries it, so a schema change or a seed retires every entry written before
 * it. The row id makes a migration reverted and applied again a new generation, not the one
 * from before the revert (whose entries may still be in Redis).
 */
export function schemaGeneration(appliedMigrations: ReadonlyArray<{ id: number | string; name: string }>, latestDataChange?: string | null): string {
  const hash = createHash('sha256');
  for (const { id, name } of appliedMigrations) hash.update(`${id}:${name}\n`);
  if (latestDataChange) hash.update(`data:${latestDataChange}\n`);
  return hash.digest('hex').slice(0, 12);
}

/** Reads the schema generation (within a transaction if `execute` runs in one). */
export async function readSchemaGeneration(execute: QueryRunner): Promise<string> {
  const applied = (await tableExists(execute, 'mikro_orm_migrations')) ? await execute('select id, name from mikro_orm_migrations order by id') : [];
  const [dataChange] = (await tableExists(execute, CACHE_OUTBOX_TABLE))
    ? await execute(`select max(id)::text as id from ${CACHE_OUTBOX_TABLE} where migrations = ''`)
    : [{ id: null }];
  return schemaGeneration(applied as Array<{ id: number; name: string }>, dataChange.id);
}
