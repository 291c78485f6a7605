import { ScenarioSeeder } from './scenario-seeder.ts';

/** Scenario `boundary-amounts`: see SCENARIOS in src/seeding/scenarios.ts and the README's Scenarios. */
export class BoundaryAmountsSeeder extends ScenarioSeeder {
  override readonly scenario = 'boundary-amounts';
}
