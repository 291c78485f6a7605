import type { AppConfig, SeedingConfig } from '../config.ts';

// Apart from the seed service, so that what only needs the options (the admin API, the CLI)
// does not load the fixture factories and faker with it.

/** What to seed, and whether the database is a production one. */
export interface SeedOptions extends SeedingConfig {
  isProduction: boolean;
}

/** The seed options the environment asks for. */
export function seedOptionsOf(config: AppConfig): SeedOptions {
  return { ...config.seeding, isProduction: config.isProduction };
}
