// npm run bench:adopt: adopting a database the previous backend's all-in-one script renamed,
// with 10k and with 1M users. The reconciliation is renames in place and comments (catalog
// only), so the transaction that holds the locks should not grow with the data: the ratio of
// its medians should stay under 1.5.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { migratorOf } from '../src/schema/enerlink-migrator.ts';
import { createLegacyDatabase, createTestDatabase, createTestOrm } from '../test/helper.ts';
import { fillLegacyData } from '../test/legacy-data.ts';
import { ALL_IN_ONE_SCRIPT, createTypeOrmMigrationsTable, runAsOperator } from '../test/previous-backend-script.ts';

const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const sizes = (process.env.BENCH_ADOPT_USERS ?? '10000,1000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_ADOPT_RUNS ?? 5);

async function admin(sql: string): Promise<void> {
  const template = await createTestDatabase('bench_adopt_admin', { create: false });
  const url = new URL(template.url);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function timeAdoption(users: number): Promise<{ scriptMs: number; adopt: number[]; transaction: number[] }> {
  // one database in the script's state, copied (CREATE DATABASE ... TEMPLATE) for each run
  const template = await createLegacyDatabase(`bench_adopt_${users}`);
  const adopt: number[] = [];
  const transaction: number[] = [];
  let scriptMs = 0;
  try {
    await fillLegacyData(template, users, 3);
    await createTypeOrmMigrationsTable(template);
    const scriptStart = performance.now();
    await runAsOperator(template, ALL_IN_ONE_SCRIPT);
    scriptMs = performance.now() - scriptStart;
    await template.query('vacuum analyze');
    await template.query('checkpoint');
    // a template must have no other sessions: end the template's own pool connections
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${template.name}' and pid <> pg_backend_pid()`);
    for (let run = 0; run < RUNS; run++) {
      const copy = await createTestDatabase(`bench_adopt_${users}_${run}`, { create: false });
      await admin(`create database ${copy.name} template ${template.name}`);
      try {
        const orm = await createTestOrm(copy);
        const migrator = migratorOf(orm);
        migrator.pipeline.useLogger((_level, _message, data) => {
          if (data && 'state' in data) transaction.push(data.durationMs as number);
        });
        // the locked run up to the rename: recognizing the state, reconciling and recording it, nothing else
        const started = performance.now();
        const report = await migrator.pipeline.run('up', { to: RENAME });
        if (report.failure) throw report.failure;
        adopt.push(performance.now() - started);
        const [{ count }] = await copy.query(`select count(*)::int as count from mikro_orm_migrations`);
        if (count !== 2) throw new Error(`expected the initial and rename migrations recorded, found ${count}`);
        await orm.close();
      } finally {
        await copy.drop();
      }
    }
  } finally {
    await template.drop();
  }
  return { scriptMs, adopt, transaction };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = [];
for (const users of sizes) {
  const result = await timeAdoption(users);
  results.push({ users, ...result });
  console.log(
    `${users.toLocaleString('en')} users (the guide's script took ${(result.scriptMs / 1000).toFixed(1)} s): ` +
      `adoption ${result.adopt.map(ms => ms.toFixed(0)).join(' / ')} ms, median ${median(result.adopt).toFixed(0)} ms; ` +
      `its transaction (the locks held) ${result.transaction.map(ms => ms.toFixed(0)).join(' / ')} ms, median ${median(result.transaction).toFixed(0)} ms`,
  );
}
const [small, large] = results;
if (small && large) {
  const ratio = median(large.transaction) / median(small.transaction);
  console.log(`ratio of the transaction medians, ${large.users.toLocaleString('en')} / ${small.users.toLocaleString('en')} users: ${ratio.toFixed(2)} (goal: under 1.5)`);
}
