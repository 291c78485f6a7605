// npm run seed:reference: applies the reference seeders of seeders/reference/ not applied yet,
// each once, recorded with its checksum; allowed in production. A changed one is exit 1.
import { join } from 'node:path';
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { projectRoot } from '../orm-config.ts';
import { applyReferenceData } from '../lifecycle/schema-lifecycle.ts';
import { exitOnFailure } from './errors.ts';
import { ArgumentError } from './seed-arguments.ts';

/** Where the shipped reference seeders are. */
export const REFERENCE_SEEDERS_FOLDER = join(projectRoot, 'seeders', 'reference');

const config = loadConfigOrExit();
await exitOnFailure(async () => {
  const [extra] = process.argv.slice(2);
  if (extra !== undefined) throw new ArgumentError(`unknown argument ${JSON.stringify(extra)} (usage: npm run seed:reference)`);
  const orm = await createOrm(config);
  let report;
  try {
    report = await applyReferenceData(orm.em.fork(), REFERENCE_SEEDERS_FOLDER);
  } finally {
    await orm.close();
  }
  for (const name of report.applied) console.log(`Applied reference seeder ${name}`);
  console.log(`Reference data: ${report.applied.length} applied, ${report.unchanged.length} already applied, ${report.changed.length} changed`);
  if (report.changed.length > 0) {
    const names = report.changed.map(({ name, appliedAt }) => `${name} (applied ${appliedAt.toISOString()})`).join(', ');
    throw new Error(`reference seeder(s) changed since they were applied, not run again: ${names}; put the change in a new reference seeder`);
  }
});
