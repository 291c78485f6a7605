import { MikroORM, type Options } from '@mikro-orm/postgresql';
import type { AppConfig } from './config.ts';
import { createOrmConfig } from './orm-config.ts';

/** Creates the ORM for `config` (not yet connected: MikroORM 7 connects on `orm.connect()`). */
export async function createOrm(config: AppConfig, overrides: Partial<Options> = {}): Promise<MikroORM> {
  return MikroORM.init(createOrmConfig(config, overrides));
}
