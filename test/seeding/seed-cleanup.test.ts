import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { cleanupFixtures, seedFixtures, seedScenario } from '../../src/lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { SeedRefusedError, type SeedOptions } from '../../src/seeding/seed-service.ts';
import { createLegacyDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { dumpTables, fillLegacyData } from '../legacy-data.ts';
import { MIKRO_ORM_CLI, runCommand } from '../processes.ts';

const TABLES = ['user', 'wallet', 'smart_meter', 'energy_settlement', 'idrs_conversion', 'market_offer', 'market_trade', 'transaction_log', 'token_blacklist'];
const OPTIONS: SeedOptions = { seed: 7, users: 40, trades: 60, allowProduction: false, isProduction: false };
const DEV = { isProduction: false, allowProduction: false };

describe('seed:cleanup on an adopted legacy database holding fixtures beside it', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let legacy: Record<string, string>;
  const legacyOnly = async () => dumpTables(db, TABLES);
  const count = async (sql: string) => (await db.query(sql))[0].n as number;

  beforeAll(async () => {
    db = await createLegacyDatabase('seed_cleanup');
    await fillLegacyData(db, 200, 2);
    orm = await createTestOrm(db);
    await migratorOf(orm).up();
    // a real user who looks like a fixture (an example.com address, a user_<ms>_<token> id): never removed
    await db.query(`insert into "user" (user_id, name, email, password_hash) values ('user_1730505600000_abcdefgh', 'Looks Fixture', 'looks.fixture.abcdefgh@example.com', 'x')`);
    legacy = await legacyOnly();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it('removes one scenario only, then the base set, leaving every legacy row byte for byte', async () => {
    await seedFixtures(orm.em.fork(), OPTIONS);
    const trader = await seedScenario(orm.em.fork(), 'power-trader', OPTIONS);
    const lifecycle = await seedScenario(orm.em.fork(), 'lifecycle', OPTIONS);
    expect(trader.inserted).toBeGreaterThan(0);
    expect(lifecycle.tables.find(t => t.label === 'revoked tokens')!.rows).toBe(12);
    // a real user's row against a fixture household depends on it and goes with it
    await db.query(`insert into market_trade (buyer_user_id, seller_user_id, traded_energy_kwh, price_idrs_per_kwh, total_idrs) values ('prosumer_1', 'user_power_trader', 1, 1000, 1000)`);

    const first = await cleanupFixtures(orm.em.fork(), 'power-trader', DEV);
    expect(first.runs).toEqual([{ scenario: 'power-trader', seed: 7, households: 25 }]);
    expect(first.tables.find(t => t.label === 'users')!.rows).toBe(25);
    expect(first.tables.find(t => t.label === 'offers')!.rows).toBe(120);
    expect(first.tables.find(t => t.label === 'trades')!.rows).toBe(301);
    expect(await count(`select count(*)::int as n from "user" where user_id = 'user_power_trader'`)).toBe(0);
    expect(await count(`select count(*)::int as n from "user" where email like 'lifecycle@%' or user_id = 'user_demo'`)).toBe(2);

    const rest = await cleanupFixtures(orm.em.fork(), undefined, DEV);
    expect(rest.runs.map(run => run.scenario)).toEqual(['base', 'lifecycle']);
    expect(rest.tables.find(t => t.label === 'users')!.rows).toBe(40 + 6);
    expect(await legacyOnly()).toEqual(legacy);
    // nothing recorded any more: a second cleanup removes nothing
    expect((await cleanupFixtures(orm.em.fork(), undefined, DEV)).rows).toBe(0);
    // and the caches were told: every cleanup recorded a data change
    expect(await count(`select count(*)::int as n from cache_outbox`)).toBeGreaterThanOrEqual(6);
  });

  it('a scenario seeded twice inserts nothing the second time and composes with the base set', async () => {
    await seedFixtures(orm.em.fork(), { ...OPTIONS, users: 5, trades: 0 });
    const once = await seedScenario(orm.em.fork(), 'boundary-amounts', OPTIONS);
    const twice = await seedScenario(orm.em.fork(), 'boundary-amounts', OPTIONS);
    expect(once.inserted).toBe(once.rows);
    expect(twice.inserted).toBe(0);
    expect(await count(`select count(*)::int as n from wallet w join "user" u using (user_id) where u.email like '%@example.%' and w.energy_balance = 99999999999999.999999`)).toBe(1);
    const removed = await cleanupFixtures(orm.em.fork(), 'boundary-amounts', DEV);
    expect(removed.tables.find(t => t.label === 'users')!.rows).toBe(3);
    expect(await count(`select count(*)::int as n from "user" where user_id = 'user_demo'`)).toBe(1);
    await cleanupFixtures(orm.em.fork(), 'base', DEV);
    expect(await legacyOnly()).toEqual(legacy);
  });

  it('a cleanup whose session is terminated while it waits behind a writer removes nothing; the next one removes it all', async () => {
    await seedScenario(orm.em.fork(), 'lifecycle', OPTIONS);
    const scenarioRows = `select count(*)::int as n from "user" u join wallet w using (user_id) where u.email = 'lifecycle@enerlink.example' or u.user_id in (select user_id from token_blacklist)`;
    const before = await count(scenarioRows);
    const snapshot = await dumpTables(db, ['user', 'wallet', 'idrs_conversion']);
    // a writer holding a row against the scenario's login household: the cleanup waits for it
    const writer = await db.connect();
    await writer.query('begin');
    await writer.query(`insert into market_trade (buyer_user_id, seller_user_id, traded_energy_kwh, price_idrs_per_kwh, total_idrs) values ('prosumer_2', 'user_lifecycle', 1, 1000, 1000)`);
    const cleanup = cleanupFixtures(orm.em.fork(), 'lifecycle', DEV);
    const failed = cleanup.then(() => 'finished', error => String(error));
    let terminated = 0;
    for (let attempt = 0; attempt < 200 && terminated === 0; attempt++) {
      await new Promise(resolve => setTimeout(resolve, 50));
      const rows = await db.query(`select pg_terminate_backend(pid) as t from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%for update of u%'`);
      terminated = rows.filter(row => row.t).length;
    }
    expect(terminated).toBe(1);
    expect(await failed).toMatch(/terminat/i);
    await writer.query('rollback');
    writer.release();
    expect(await count(scenarioRows)).toBe(before);
    expect(await dumpTables(db, ['user', 'wallet', 'idrs_conversion'])).toEqual(snapshot);
    const removed = await cleanupFixtures(orm.em.fork(), 'lifecycle', DEV);
    expect(removed.tables.find(t => t.label === 'users')!.rows).toBe(6);
  });

  it('the same SEED gives the same scenario rows, byte for byte, after a cleanup', async () => {
    const scenarioDump = async () =>
      (await db.query(`select row_to_json(u)::text || row_to_json(w)::text || row_to_json(m)::text as r from "user" u join wallet w using (user_id) join smart_meter m using (user_id)
        where u.user_id in (select seller_user_id from market_offer) and u.email not like 'demo@%' order by u.user_id`)).map(row => row.r);
    await seedScenario(orm.em.fork(), 'power-trader', OPTIONS);
    const first = await scenarioDump();
    await cleanupFixtures(orm.em.fork(), 'power-trader', DEV);
    await seedScenario(orm.em.fork(), 'power-trader', OPTIONS);
    expect(first.length).toBe(1);
    expect(await scenarioDump()).toEqual(first);
    await cleanupFixtures(orm.em.fork(), 'power-trader', DEV);
    expect(await legacyOnly()).toEqual(legacy);
  });

  it('is refused in production, removing nothing', async () => {
    await seedFixtures(orm.em.fork(), { ...OPTIONS, users: 3, trades: 0 });
    await expect(cleanupFixtures(orm.em.fork(), undefined, { isProduction: true, allowProduction: false })).rejects.toBeInstanceOf(SeedRefusedError);
    expect(await count(`select count(*)::int as n from "user" where user_id = 'user_demo'`)).toBe(1);
    await cleanupFixtures(orm.em.fork(), undefined, DEV);
  });

  it('from the command line: one enerlink: line for a bad option or production, a summary otherwise', async () => {
    const env = { DATABASE_URL: db.url, NODE_ENV: 'development', JWT_SECRET: 'seed-cli-test-secret-of-32-characters', PAYMENT_WEBHOOK_SECRET: 'seed-cli-webhook-secret-of-32-characters' };
    const bad = await runCommand(['src/cli/seed-cleanup.ts', '--scenario', 'nope'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('enerlink: --scenario must be one of base, power-trader, boundary-amounts, lifecycle, settlement-heavy, large-market, got "nope"');
    const repeated = await runCommand(['src/cli/seed-cleanup.ts', '--scenario', 'base', '--scenario=base'], env);
    expect(repeated.stderr.trim()).toMatch(/^enerlink: --scenario is given more than once/);

    const seeded = await runCommand([MIKRO_ORM_CLI, 'seeder:run', '--class', 'LifecycleSeeder'], { ...env, SEED: '3' });
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toContain('Seeded scenario lifecycle (seed 3): 6 users');
    expect(seeded.stdout).toContain('Login: lifecycle@enerlink.example / password');
    const byScript = await runCommand(['src/cli/seed.ts', '--scenario', 'power-trader', '--seed', '3'], env);
    expect(byScript.code).toBe(0);
    expect(byScript.stdout).toContain('Login: power-trader@enerlink.example / password');

    const refused = await runCommand(['src/cli/seed-cleanup.ts'], { ...env, NODE_ENV: 'production' });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('enerlink: seed:cleanup is refused with NODE_ENV=production; set SEED_ALLOW_PRODUCTION=1 to run it anyway');

    const cleaned = await runCommand(['src/cli/seed-cleanup.ts', '--scenario', 'lifecycle'], env);
    expect(cleaned.code).toBe(0);
    expect(cleaned.stdout).toMatch(/^Removed the fixtures of lifecycle \(seed 3\): 6 users, 6 wallets, 6 smart meters/);
    await runCommand(['src/cli/seed-cleanup.ts'], env);
    expect(await legacyOnly()).toEqual(legacy);
  });
});
