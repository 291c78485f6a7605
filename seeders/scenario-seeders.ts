import type { ScenarioName } from '../src/seeding/scenario-names.ts';
import { BoundaryAmountsSeeder } from './BoundaryAmountsSeeder.ts';
import { LargeMarketSeeder } from './LargeMarketSeeder.ts';
import { LifecycleSeeder } from './LifecycleSeeder.ts';
import { PowerTraderSeeder } from './PowerTraderSeeder.ts';
import type { ScenarioSeeder } from './scenario-seeder.ts';
import { SettlementHeavySeeder } from './SettlementHeavySeeder.ts';

const SEEDERS: Record<ScenarioName, typeof ScenarioSeeder> = {
  'power-trader': PowerTraderSeeder,
  'boundary-amounts': BoundaryAmountsSeeder,
  lifecycle: LifecycleSeeder,
  'settlement-heavy': SettlementHeavySeeder,
  'large-market': LargeMarketSeeder,
};

/** The seeder class of scenario `name`. */
export function scenarioSeeder(name: ScenarioName): typeof ScenarioSeeder {
  return SEEDERS[name];
}
