import type { ScenarioName } from '../src/seeding/scenario-names.ts';
import { BoundaryAmountsSeeder } from './BoundaryAmountsSeeder.ts';
import { LifecycleSeeder } from './LifecycleSeeder.ts';
import { PowerTraderSeeder } from './PowerTraderSeeder.ts';
import type { ScenarioSeeder } from './scenario-seeder.ts';

const SEEDERS: Record<ScenarioName, typeof ScenarioSeeder> = {
  'power-trader': PowerTraderSeeder,
  'boundary-amounts': BoundaryAmountsSeeder,
  lifecycle: LifecycleSeeder,
};

/** The seeder class of scenario `name`. */
export function scenarioSeeder(name: ScenarioName): typeof ScenarioSeeder {
  return SEEDERS[name];
}
