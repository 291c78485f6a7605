// npm run seed [-- --users N --trades N --seed N]: the fixture set of DatabaseSeeder, through
// orm.seeder, with the options given over SEED_USERS, SEED_TRADES and SEED.
import { DatabaseSeeder } from '../../seeders/DatabaseSeeder.ts';
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { consoleReporter } from '../seeding/seed-report.ts';
import { seedOptionsOf } from '../seeding/seed-service.ts';
import { exitOnFailure } from './errors.ts';
import { parseSeedArguments } from './seed-arguments.ts';

const config = loadConfigOrExit();
await exitOnFailure(async () => {
  const options = parseSeedArguments(process.argv.slice(2), seedOptionsOf(config));
  const orm = await createOrm(config);
  try {
    await orm.seeder.seed(DatabaseSeeder.with(options, { reporter: consoleReporter() }));
  } finally {
    await orm.close();
  }
});
