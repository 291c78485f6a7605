// npm run bench:rename: the rename migration on a legacy database with 10k users and with 1M
// users (each with a wallet, a meter and log rows). A rename in place costs the same whatever
// the data size, so the ratio of the two durations should stay under 1.5.
import { performance } from 'node:perf_hooks';
import { migratorOf } from '../src/schema/enerlink-migrator.ts';
import { createLegacyDatabase, createTestOrm } from '../test/helper.ts';
import { fillLegacyData } from '../test/legacy-data.ts';

const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const sizes = (process.env.BENCH_RENAME_USERS ?? '10000,1000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RENAME_RUNS ?? 7);

async function timeRename(users: number): Promise<{ fill: number; rename: number[]; run: number[]; rows: number }> {
  const db = await createLegacyDatabase(`bench_rename_${users}`);
  try {
    const fillStart = performance.now();
    await fillLegacyData(db, users, 3);
    // settle the freshly loaded data so the timings measure the migration, not the load's aftermath
    await db.query('vacuum analyze');
    await db.query('checkpoint');
    const fill = performance.now() - fillStart;
    const counts = await db.query(
      `select (select count(*) from prosumer) + (select count(*) from wallet) + (select count(*) from smart_meter)
            + (select count(*) from transaction_log) + (select count(*) from market_trade) + (select count(*) from idrs_conversion)
            + (select count(*) from token_blacklist) + (select count(*) from energy_settlement) as rows`,
    );
    const rows = counts[0].rows;
    const orm = await createTestOrm(db);
    const migrator = migratorOf(orm);
    await migrator.pipeline.run('up', { to: 'Migration20241102000000_InitialSchema' }); // adopts the legacy database
    const rename: number[] = [];
    const run: number[] = [];
    for (let attempt = 0; attempt < RUNS; attempt++) {
      // the migration itself, from the migrator's own timing; the whole run (lock, plan and
      // the post-run verification) separately
      const report = await migrator.pipeline.run('up', { to: RENAME });
      if (report.failure) throw report.failure;
      rename.push(report.migrations[0].durationMs);
      run.push(report.durationMs);
      await migrator.down({ to: 'Migration20241102000000_InitialSchema' });
    }
    await orm.close();
    return { fill, rename, run, rows: Number(rows) };
  } finally {
    await db.drop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = [];
for (const users of sizes) {
  const result = await timeRename(users);
  results.push({ users, ...result });
  console.log(
    `${users.toLocaleString('en')} users (${result.rows.toLocaleString('en')} rows, filled in ${(result.fill / 1000).toFixed(1)} s): ` +
      `rename ${result.rename.map(ms => ms.toFixed(0)).join(' / ')} ms, median ${median(result.rename).toFixed(0)} ms; ` +
      `whole run with verification, median ${median(result.run).toFixed(0)} ms`,
  );
}
const [small, large] = results;
if (small && large) {
  const ratio = median(large.rename) / median(small.rename);
  console.log(`ratio ${large.users.toLocaleString('en')} / ${small.users.toLocaleString('en')} users: ${ratio.toFixed(2)} (goal: under 1.5)`);
}
