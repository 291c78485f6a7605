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

/** Options no fixture set can be made of; nothing was written. */
export class SeedOptionsError extends Error {
  override name = 'SeedOptionsError';
}

/** The one rule on seed options: trades need two users to trade between. */
export function checkSeedOptions(options: Pick<SeedOptions, 'users' | 'trades'>): void {
  if (options.trades > 0 && options.users < 2) {
    throw new SeedOptionsError(`Trades need at least 2 users to trade between, got users: ${options.users}`);
  }
}
