// npm run seed:reference: applies the reference seeders of seeders/reference/ not applied yet,
// each once, recorded with its checksum, under the fleet lock; allowed in production. A changed
// one is exit 1.
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { applyReferenceData } from '../lifecycle/schema-lifecycle.ts';
import { describeReferenceReport } from '../seeding/seed-report.ts';
import { exitOnFailure } from './errors.ts';
import { ArgumentError } from './seed-arguments.ts';

const config = loadConfigOrExit();
await exitOnFailure(async () => {
  const [extra] = process.argv.slice(2);
  if (extra !== undefined) throw new ArgumentError(`unknown argument ${JSON.stringify(extra)} (usage: npm run seed:reference)`);
  const orm = await createOrm(config);
  let report;
  try {
    report = await applyReferenceData(orm.em.fork(), { fleetLock: { databaseUrl: config.databaseUrl, timeoutMs: config.migrationLockTimeoutMs, origin: 'cli' } });
  } finally {
    await orm.close();
  }
  for (const name of report.applied) console.log(`Applied reference seeder ${name}`);
  const { summary, changed } = describeReferenceReport(report);
  console.log(summary);
  if (changed) throw new Error(changed);
});
