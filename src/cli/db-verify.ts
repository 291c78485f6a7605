// npm run db:verify: the full integrity report (foreign keys, indexes, orphans behind every
// foreign key, exact row counts), which reads every row; never under the migration lock, so
// migrations and live traffic go on meanwhile. Exit 1 when a check fails.
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { withCommandLifecycle } from '../lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../schema/enerlink-migrator.ts';
import { exitOnFailure } from './errors.ts';

const config = loadConfigOrExit();
const report = await exitOnFailure(async () => {
  const orm = await createOrm(config, { migrations: { silent: true } });
  try {
    await orm.connect();
    return await withCommandLifecycle({ em: orm.em, migrator: migratorOf(orm), config }, lifecycle => lifecycle.verify());
  } finally {
    await orm.close();
  }
});
for (const check of report.checks) console.log(`${check.ok ? 'ok    ' : 'FAILED'} ${check.name}: ${check.detail}`);
console.log(`rows: ${Object.entries(report.counts).map(([table, count]) => `${table} ${count}`).join(', ')}`);
if (!report.ok) {
  process.stderr.write(`enerlink: verification of ${config.databaseName} FAILED: ${report.checks.filter(check => !check.ok).map(check => check.name).join(', ')}\n`);
  process.exit(1);
}
