import { ScenarioSeeder } from './scenario-seeder.ts';

/** Scenario `lifecycle`: see SCENARIOS in src/seeding/scenarios.ts and the README's Scenarios. */
export class LifecycleSeeder extends ScenarioSeeder {
  override readonly scenario = 'lifecycle';
}
