// npm run db:reset: drops every table of the database's schema, migrates to the latest version,
// applies the reference data, then seeds the fixture set (SEED, SEED_USERS, SEED_TRADES). Refused in production.
import { DatabaseSeeder } from '../../seeders/DatabaseSeeder.ts';
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { applyReferenceData, withCommandLifecycle } from '../lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../schema/enerlink-migrator.ts';
import { consoleReporter, describeReferenceReport } from '../seeding/seed-report.ts';
import { seedOptionsOf } from '../seeding/seed-service.ts';
import { exitOnFailure } from './errors.ts';

const config = loadConfigOrExit();
if (config.isProduction) {
  process.stderr.write('enerlink: db:reset drops every table and is refused with NODE_ENV=production\n');
  process.exit(1);
}

await exitOnFailure(async () => {
  const orm = await createOrm(config);
  try {
    const connection = orm.em.getConnection();
    await orm.schema.ensureDatabase(); // a developer's first run creates it
    const tables = await connection.execute<Array<{ name: string }>>(
      `select quote_ident(tablename) as name from pg_tables where schemaname = current_schema()`,
    );
    if (tables.length > 0) {
      await connection.execute(`drop table ${tables.map(t => t.name).join(', ')} cascade`);
    }
    console.log(`Dropped ${tables.length} table(s) from ${config.databaseName}`);
    const report = await withCommandLifecycle({ em: orm.em, migrator: migratorOf(orm), config }, lifecycle => lifecycle.migrate('up', undefined, { origin: 'cli' }));
    if (report.failure) throw report.failure;
    console.log(`Applied ${report.migrations.length} migration(s): ${report.migrations.map(m => m.name).join(', ')}`);
    // the reference data too (the default limits): a reset database trades like a started one
    const reference = await applyReferenceData(orm.em.fork());
    console.log(describeReferenceReport(reference).summary);
    await orm.seeder.seed(DatabaseSeeder.with(seedOptionsOf(config), { reporter: consoleReporter() }));
  } finally {
    await orm.close();
  }
});
