import { ScenarioSeeder } from './scenario-seeder.ts';

/** Scenario `settlement-heavy`: see SCENARIOS in src/seeding/scenarios.ts and the README's Scenarios. */
export class SettlementHeavySeeder extends ScenarioSeeder {
  override readonly scenario = 'settlement-heavy';
}
