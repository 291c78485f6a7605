import { ScenarioSeeder } from './scenario-seeder.ts';

/** Scenario `large-market` (SEED_USERS / --users households): see SCENARIOS in src/seeding/scenarios.ts and the README's Scenarios. */
export class LargeMarketSeeder extends ScenarioSeeder {
  override readonly scenario = 'large-market';
}
