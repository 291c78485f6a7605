// npm run seed [-- --users N --trades N --seed N | --scenario <name> --seed N]: the fixture set of
// DatabaseSeeder, or one named scenario's seeder, through orm.seeder, with the options given
// over SEED_USERS, SEED_TRADES and SEED.
import { DatabaseSeeder } from '../../seeders/DatabaseSeeder.ts';
import { scenarioSeeder } from '../../seeders/scenario-seeders.ts';
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { consoleReporter } from '../seeding/seed-report.ts';
import { seedOptionsOf } from '../seeding/seed-options.ts';
import { exitOnFailure } from './errors.ts';
import { parseSeedArguments } from './seed-arguments.ts';

const config = loadConfigOrExit();
await exitOnFailure(async () => {
  const { scenario, ...options } = parseSeedArguments(process.argv.slice(2), seedOptionsOf(config));
  const orm = await createOrm(config);
  try {
    await orm.seeder.seed(scenario ? scenarioSeeder(scenario).with(options) : DatabaseSeeder.with(options, { reporter: consoleReporter() }));
  } finally {
    await orm.close();
  }
});
