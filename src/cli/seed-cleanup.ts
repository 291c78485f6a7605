// npm run seed:cleanup [-- --scenario <name>]: removes the rows the fixtures made (every recorded
// run, or those of one scenario or of the base set) and what depends on them, in one transaction.
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { cleanupFixtures } from '../lifecycle/schema-lifecycle.ts';
import { describeCleanup } from '../seeding/seed-report.ts';
import { exitOnFailure } from './errors.ts';
import { parseCleanupArguments } from './seed-arguments.ts';

const config = loadConfigOrExit();
await exitOnFailure(async () => {
  const { target } = parseCleanupArguments(process.argv.slice(2));
  const orm = await createOrm(config);
  try {
    const summary = await cleanupFixtures(orm.em.fork(), target, { isProduction: config.isProduction, allowProduction: config.seeding.allowProduction });
    console.log(describeCleanup(summary));
  } finally {
    await orm.close();
  }
});
