import type { EntityManager } from '@mikro-orm/postgresql';
import { Seeder } from '@mikro-orm/seeder';
import { loadConfigOrExit } from '../src/config.ts';
import { consoleReporter } from '../src/seeding/seed-report.ts';
import { seedFixtures } from '../src/lifecycle/schema-lifecycle.ts';
import { seedOptionsOf, type SeedContext, type SeedOptions } from '../src/seeding/seed-service.ts';

/**
 * The default seeder (`npx mikro-orm seeder:run`, `npm run seed`, `npm run db:reset`): the fixture
 * set of SEED, SEED_USERS and SEED_TRADES, built by the factories in ./factories through the seed
 * service, the one implementation every entry point shares.
 */
export class DatabaseSeeder extends Seeder {
  /** DatabaseSeeder with explicit options instead of the environment's, for `orm.seeder.seed()`. */
  static with(options: SeedOptions, context: SeedContext = {}): typeof DatabaseSeeder {
    return class extends DatabaseSeeder {
      protected override settings() {
        return { options, context };
      }
    };
  }

  protected settings(): { options: SeedOptions; context: SeedContext } {
    return { options: seedOptionsOf(loadConfigOrExit()), context: { reporter: consoleReporter() } };
  }

  async run(em: EntityManager): Promise<void> {
    const { options, context } = this.settings();
    await seedFixtures(em, options, context);
  }
}
