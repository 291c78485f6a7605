import { createHash } from 'node:crypto';
import type { QueryRunner } from '../schema/schema-fingerprint.ts';

/**
 * The schema generation: a short hash of the applied migrations, each as `<row id>:<name>` in
 * the order they were applied. Every cache key carries it, so a schema change retires every
 * entry written before it. The row id makes a migration reverted and applied again a new
 * generation, not the one from before the revert (whose entries may still be in Redis).
 */
export function schemaGeneration(appliedMigrations: ReadonlyArray<{ id: number | string; name: string }>): string {
  const hash = createHash('sha256');
  for (const { id, name } of appliedMigrations) hash.update(`${id}:${name}\n`);
  return hash.digest('hex').slice(0, 12);
}

/** Reads the schema generation from `mikro_orm_migrations` (within a transaction if `execute` runs in one). */
export async function readSchemaGeneration(execute: QueryRunner): Promise<string> {
  const [{ present }] = await execute(`select to_regclass('mikro_orm_migrations') is not null as present`);
  const applied = present ? await execute('select id, name from mikro_orm_migrations order by id') : [];
  return schemaGeneration(applied as Array<{ id: number; name: string }>);
}
