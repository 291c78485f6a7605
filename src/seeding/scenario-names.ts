// Apart from the scenarios themselves, so that what only needs their names (the admin schema,
// the CLI's argument check) does not load the fixture factories and faker.

/** The named scenarios, each a seeder class in seeders/ and a `--scenario` of `npm run seed`. */
export const SCENARIO_NAMES = ['power-trader', 'boundary-amounts', 'lifecycle', 'settlement-heavy', 'large-market'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The scenarios whose size is given (`--users N`, `--trades N`); every other one has a fixed size and takes only a seed. */
export const SIZED_SCENARIOS: readonly ScenarioName[] = ['large-market'];

export function isSizedScenario(name: ScenarioName): boolean {
  return SIZED_SCENARIOS.includes(name);
}

/** The base set's name in the record of fixture runs, and for `seed:cleanup -- --scenario`. */
export const BASE_SET = 'base';

/** What `seed:cleanup -- --scenario` accepts: a scenario or the base set. */
export const CLEANUP_TARGETS = [BASE_SET, ...SCENARIO_NAMES] as const;
export type CleanupTarget = (typeof CLEANUP_TARGETS)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}
