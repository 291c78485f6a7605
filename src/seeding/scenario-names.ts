// Apart from the scenarios themselves, so that what only needs their names (the admin schema,
// the CLI's argument check) does not load the fixture factories and faker.

/** The named scenarios, each a seeder class in seeders/ and a `--scenario` of `npm run seed`. */
export const SCENARIO_NAMES = ['power-trader', 'boundary-amounts', 'lifecycle'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The base set's name in the record of fixture runs, and for `seed:cleanup -- --scenario`. */
export const BASE_SET = 'base';

/** What `seed:cleanup -- --scenario` accepts: a scenario or the base set. */
export const CLEANUP_TARGETS = [BASE_SET, ...SCENARIO_NAMES] as const;
export type CleanupTarget = (typeof CLEANUP_TARGETS)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}
