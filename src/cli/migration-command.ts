import type { AppConfig } from '../config.ts';
import { createOrm } from '../orm.ts';
import { withCommandLifecycle, type SchemaLifecycle } from '../lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../schema/enerlink-migrator.ts';

/** Runs `work` with a command's schema lifecycle on the configured database, then closes it all. */
export async function withMigrationCommand<T>(config: AppConfig, work: (lifecycle: SchemaLifecycle) => Promise<T>): Promise<T> {
  const orm = await createOrm(config);
  try {
    return await withCommandLifecycle({ em: orm.em, migrator: migratorOf(orm), config }, work);
  } finally {
    await orm.close();
  }
}
