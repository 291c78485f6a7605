import type { EntityManager } from '@mikro-orm/postgresql';
import { Seeder } from '@mikro-orm/seeder';
import { loadConfigOrExit } from '../src/config.ts';
import { seedScenario } from '../src/lifecycle/schema-lifecycle.ts';
import type { ScenarioName } from '../src/seeding/scenario-names.ts';
import { seedOptionsOf, type SeedOptions } from '../src/seeding/seed-options.ts';
import { consoleReporter, describeScenario } from '../src/seeding/seed-report.ts';

/**
 * A named scenario's seeder (`npx mikro-orm seeder:run --class <Name>`, `npm run seed --
 * --scenario <name>`): the scenario's own households for SEED, beside the base set, through the
 * seed service; prints what it made and the login that shows it. A sized scenario takes
 * SEED_USERS and SEED_TRADES (or `--users`, `--trades`) too.
 */
export class ScenarioSeeder extends Seeder {
  /** Set by each scenario's seeder; the base is never run itself. */
  declare readonly scenario: ScenarioName;

  /** This seeder with explicit options instead of the environment's, for `orm.seeder.seed()`. */
  static with(this: typeof ScenarioSeeder, options: SeedOptions): typeof ScenarioSeeder {
    return class extends this {
      protected override options() {
        return options;
      }
    };
  }

  protected options(): SeedOptions {
    return seedOptionsOf(loadConfigOrExit());
  }

  async run(em: EntityManager): Promise<void> {
    // progress of a sized scenario (large-market) on stderr, like the base set's
    const summary = await seedScenario(em, this.scenario, this.options(), { reporter: consoleReporter() });
    process.stdout.write(`${describeScenario(summary)}\n`);
  }
}
