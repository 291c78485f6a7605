import { MikroORM, type Options } from '@mikro-orm/postgresql';
import type { AppConfig } from '../config.ts';
import type { EnerlinkMigrator } from '../schema/enerlink-migrator.ts';
import { createOrmConfig } from './orm-config.ts';

/** Creates the ORM for `config` (not yet connected: MikroORM 7 connects on `orm.connect()`). */
export async function createOrm(config: AppConfig, overrides: Partial<Options> = {}): Promise<MikroORM> {
  return MikroORM.init(createOrmConfig(config, overrides));
}

/** The ORM's migrator, typed as the EnerlinkMigrator the configuration registers. */
export function migratorOf(orm: MikroORM): EnerlinkMigrator {
  return orm.migrator as unknown as EnerlinkMigrator;
}
