import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createLegacyDatabase, createTestDatabase, type TestDatabase } from '../helper.ts';
import { fillLegacyData } from '../legacy-data.ts';
import {
  migrationSource,
  migrationsFolder,
  readiness,
  startServiceProcess,
  waitUntilReady,
  type ServiceProcess,
} from '../processes.ts';

const REAL_MIGRATIONS = [
  'Migration20241102000000_InitialSchema',
  'Migration20241102000001_RenameProsumerToUser',
  'Migration20241102000002_AddCompositeIndexes',
  'Migration20261121000001_CacheOutbox',
  'Migration20261201000001_MarketIntegrity',
  'Migration20261202000001_LimitDefaults',
];
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function database(label: string, legacy = false): Promise<TestDatabase> {
  const db = legacy ? await createLegacyDatabase(label) : await createTestDatabase(label);
  cleanup.push(() => db.drop());
  return db;
}

function folder(extra: Record<string, string>): string {
  const created = migrationsFolder(extra);
  cleanup.push(created.remove);
  return created.path;
}

async function recordedCounts(db: TestDatabase): Promise<Record<string, number>> {
  const rows = await db.query('select name, count(*)::int as count from mikro_orm_migrations group by name order by name');
  return Object.fromEntries(rows.map(row => [row.name, row.count]));
}

/** Starts `count` instances at once, waits until each is ready, stops them, returns them. */
async function race(count: number, env: Record<string, string>, migrationsPath?: string): Promise<ServiceProcess[]> {
  const instances = Array.from({ length: count }, () => startServiceProcess(env, migrationsPath));
  cleanup.push(() => instances.forEach(instance => instance.child.kill('SIGKILL')));
  const ports = await Promise.all(instances.map(instance => instance.port()));
  await Promise.all(ports.map(port => waitUntilReady(port)));
  for (const instance of instances) instance.child.kill('SIGTERM');
  const codes = await Promise.all(instances.map(instance => instance.exited));
  expect(codes).toEqual(instances.map(() => 0));
  return instances;
}

describe('six instances started at the same instant', () => {
  it('on an empty database: each migration recorded once, all ready, no errors', async () => {
    const db = await database('race_empty');
    const instances = await race(6, { DATABASE_URL: db.url });
    expect(await recordedCounts(db)).toEqual(Object.fromEntries(REAL_MIGRATIONS.map(name => [name, 1])));
    for (const instance of instances) {
      expect(instance.errors()).toEqual([]);
      expect(instance.stderr).toBe('');
    }
    // exactly one instance applied them; the others waited for the lock and found nothing to do
    const appliers = instances.filter(instance => instance.stdout.includes('Applied Migration20241102000001_RenameProsumerToUser'));
    expect(appliers).toHaveLength(1);
    const [run] = await db.query(`select count(*)::int as count from enerlink_migration_run where status = 'applied'`);
    expect(run.count).toBe(1);
  });

  it('on a deployed legacy database: adopted once, every row kept, all ready', async () => {
    const db = await database('race_legacy', true);
    await fillLegacyData(db, 2_000);
    const [before] = await db.query('select count(*)::int as users, sum(energy_balance)::text as energy from prosumer join wallet using (prosumer_id)');
    const instances = await race(6, { DATABASE_URL: db.url });
    expect(await recordedCounts(db)).toEqual(Object.fromEntries(REAL_MIGRATIONS.map(name => [name, 1])));
    const [after] = await db.query('select count(*)::int as users, sum(energy_balance)::text as energy from "user" join wallet using (user_id)');
    expect(after).toEqual(before);
    for (const instance of instances) expect(instance.errors()).toEqual([]);
  });

  it('a data-changing migration in the race is applied exactly once', async () => {
    const db = await database('race_data', true);
    await fillLegacyData(db, 500);
    const migrations = folder({
      'Migration20261121090000_WelcomeBonus.ts': migrationSource(
        'Migration20261121090000_WelcomeBonus',
        ['update wallet set idrs_balance = idrs_balance + 100'],
        ['update wallet set idrs_balance = idrs_balance - 100'],
      ),
    });
    const [before] = await db.query('select sum(idrs_balance)::text as total, count(*)::int as wallets from wallet');
    await race(6, { DATABASE_URL: db.url }, migrations);
    const [after] = await db.query('select sum(idrs_balance)::text as total from wallet');
    expect(Number(after.total)).toBe(Number(before.total) + 100 * before.wallets);
    expect((await recordedCounts(db)).Migration20261121090000_WelcomeBonus).toBe(1);
  });
});

describe('a process killed with SIGKILL in the middle of a migration', () => {
  it('leaves the schema at the previous version; the next start completes it', async () => {
    const db = await database('kill9');
    await db.query('create table test_control (sleep_seconds int not null)');
    await db.query('insert into test_control values (60)');
    const migrations = folder({
      'Migration20261121090001_SlowReshape.ts': migrationSource('Migration20261121090001_SlowReshape', [
        'create table reshaped (id int primary key)',
        'alter table wallet add column reshaped_at timestamptz',
        'select pg_sleep((select sleep_seconds from test_control))',
      ]),
    });
    const first = startServiceProcess({ DATABASE_URL: db.url }, migrations);
    cleanup.push(() => first.child.kill('SIGKILL'));
    // wait until it is inside the slow migration
    for (let waited = 0; ; waited += 100) {
      const rows = await db.query(`select 1 from pg_stat_activity where query like 'select pg_sleep%' and datname = current_database()`);
      if (rows.length > 0) break;
      if (waited > 60_000) throw new Error(`never reached the slow migration: ${first.stdout}`);
      await sleep(100);
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    // PostgreSQL notices the dead client (client_connection_check_interval) and rolls back
    for (let waited = 0; ; waited += 100) {
      const rows = await db.query(`select 1 from pg_stat_activity where query like 'select pg_sleep%' and datname = current_database()`);
      if (rows.length === 0) break;
      if (waited > 20_000) throw new Error('the killed migration kept running');
      await sleep(100);
    }
    expect((await db.query(`select to_regclass('reshaped') is not null as exists`))[0].exists).toBe(false);
    expect(await db.query(`select 1 from information_schema.columns where table_name = 'wallet' and column_name = 'reshaped_at'`)).toEqual([]);
    // CacheOutbox, MarketIntegrity and LimitDefaults ran in the same transaction as the slow migration, so they went back with it
    const batch = ['Migration20261121000001_CacheOutbox', 'Migration20261201000001_MarketIntegrity', 'Migration20261202000001_LimitDefaults'];
    const committed = REAL_MIGRATIONS.filter(name => !batch.includes(name));
    expect(await recordedCounts(db)).toEqual(Object.fromEntries(committed.map(name => [name, 1])));
    expect((await db.query(`select to_regclass('cache_outbox') is not null as exists`))[0].exists).toBe(false);
    // the killed run left its trace in the run log, with what it was running
    const [killed] = await db.query(`select status, origin, migrations from enerlink_migration_run order by id desc limit 1`);
    expect(killed).toMatchObject({ status: 'running', origin: 'startup' });
    expect(killed.migrations.map((m: { name: string }) => m.name)).toContain('Migration20261121090001_SlowReshape');

    await db.query('update test_control set sleep_seconds = 0');
    const second = startServiceProcess({ DATABASE_URL: db.url }, migrations);
    cleanup.push(() => second.child.kill('SIGKILL'));
    await waitUntilReady(await second.port());
    expect((await recordedCounts(db)).Migration20261121090001_SlowReshape).toBe(1);
    expect((await db.query(`select to_regclass('reshaped') is not null as exists`))[0].exists).toBe(true);
    // the next run found it still "running" under the lock it now holds: its process died
    const runs = await db.query(`select status, error from enerlink_migration_run order by id desc limit 2`);
    expect(runs).toEqual([
      { status: 'applied', error: null },
      { status: 'interrupted', error: 'its process ended before the run finished' },
    ]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe('a migration that fails halfway', () => {
  it('leaves nothing of the run and exits non-zero naming the migration and the SQL error', async () => {
    const db = await database('fails');
    const migrations = folder({
      'Migration20261121090002_AddLedgerNotes.ts': migrationSource('Migration20261121090002_AddLedgerNotes', [
        'create table ledger_note (id int primary key)',
        'insert into ledger_note values (1)',
      ]),
      'Migration20261121090003_BrokenBackfill.ts': migrationSource('Migration20261121090003_BrokenBackfill', [
        'alter table wallet add column backfilled boolean',
        'update wallet set backfilled = true from no_such_table',
      ]),
    });
    // the real migrations first, so that the failing run is only the two above
    const good = startServiceProcess({ DATABASE_URL: db.url });
    await waitUntilReady(await good.port());
    good.child.kill('SIGTERM');
    await good.exited;

    const failing = startServiceProcess({ DATABASE_URL: db.url }, migrations);
    expect(await failing.exited).toBe(1);
    const message = failing.stderr.trim();
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(/^enerlink: Migration Migration20261121090003_BrokenBackfill \(up\) failed: .*relation "no_such_table" does not exist/);
    expect((await db.query(`select to_regclass('ledger_note') is not null as exists`))[0].exists).toBe(false);
    expect(await db.query(`select 1 from information_schema.columns where table_name = 'wallet' and column_name = 'backfilled'`)).toEqual([]);
    expect(Object.keys(await recordedCounts(db))).toEqual(REAL_MIGRATIONS);
    const [run] = await db.query(`select status, error from enerlink_migration_run order by id desc limit 1`);
    expect(run.status).toBe('failed');
    expect(run.error).toContain('Migration20261121090003_BrokenBackfill');
  });
});

describe('MIGRATIONS_RUN=false with pending migrations', () => {
  it('serves /health/ready as 503 naming them, then the reference data, until an operator applies both, then 200 without a restart', async () => {
    const db = await database('norun');
    const service = startServiceProcess({ DATABASE_URL: db.url, MIGRATIONS_RUN: 'false' });
    cleanup.push(() => service.child.kill('SIGKILL'));
    const port = await service.port();
    const before = await readiness(port);
    expect(before.status).toBe(503);
    expect(before.body.pendingMigrations).toEqual(REAL_MIGRATIONS);
    expect(service.stdout).toContain(`MIGRATIONS_RUN=false and ${REAL_MIGRATIONS.length} migration(s) pending`);

    const cli = new URL('../../node_modules/@mikro-orm/cli/cli.js', import.meta.url).pathname;
    const operator = { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, DATABASE_URL: db.url } };
    await promisify(execFile)(process.execPath, [cli, 'migration:up'], operator);
    const migrated = await readiness(port);
    expect(migrated.status).toBe(503);
    expect(migrated.body).toMatchObject({ pendingMigrations: [], pendingReferenceData: ['20261202000001-default-limits'] });
    await promisify(execFile)(process.execPath, ['src/cli/seed-reference.ts'], operator);
    const after = await readiness(port);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'ready', pendingMigrations: [], pendingReferenceData: [], migrating: false });
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
  });
});

describe('an unreachable database', () => {
  it('is retried until DATABASE_CONNECT_TIMEOUT_MS, then one line and exit 1', async () => {
    const service = startServiceProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/enerlink', DATABASE_CONNECT_TIMEOUT_MS: '1500' });
    expect(await service.exited).toBe(1);
    expect(service.stderr.trim()).toMatch(/^enerlink: cannot reach the database after 1500 ms \(DATABASE_CONNECT_TIMEOUT_MS\): .*ECONNREFUSED/);
  });
});
