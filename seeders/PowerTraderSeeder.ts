import { ScenarioSeeder } from './scenario-seeder.ts';

/** Scenario `power-trader`: see SCENARIOS in src/seeding/scenarios.ts and the README's Scenarios. */
export class PowerTraderSeeder extends ScenarioSeeder {
  override readonly scenario = 'power-trader';
}
