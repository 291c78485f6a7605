import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { cleanupFixtures, seedFixtures, seedScenario } from '../../src/lifecycle/schema-lifecycle.ts';
import type { SeedOptions } from '../../src/seeding/seed-service.ts';
import { adminCall, expectProblem, settle, startApi, type Api } from '../api.ts';
import { createTestDatabase, createTestOrm, migrateTestDatabase, type TestDatabase } from '../helper.ts';
import { MIKRO_ORM_CLI, runCommand } from '../processes.ts';

const OPTIONS: SeedOptions = { seed: 11, users: 30, trades: 40, allowProduction: false, isProduction: false };
const DEV = { isProduction: false, allowProduction: false };
const HEAVY_USER = 'user_settlement_heavy';

/** Every row of the database but generated keys, sorted: what two runs must agree on byte for byte. */
async function contents(db: TestDatabase): Promise<string[]> {
  const tables: Array<[string, string]> = [
    ['"user"', 'u'], ['wallet', 'w'], ['smart_meter', 'm'], ['idrs_conversion', 'c'], ['token_blacklist', 't'],
  ];
  const rows: string[] = [];
  for (const [table, alias] of tables) rows.push(...(await db.query(`select row_to_json(${alias})::text as r from ${table} ${alias}`)).map(row => `${table} ${row.r}`));
  // generated keys (settlement_id, id, offer_id, trade_id) left out
  for (const sql of [
    `select 'settlement ' || meter_id || ' ' || period_start || ' ' || period_end || ' ' || net_kwh || ' ' || status || ' ' || created_at as r from energy_settlement`,
    `select 'log ' || user_id || ' ' || transaction_type || ' ' || description || ' ' || amount || ' ' || currency || ' ' || coalesce(tx_hash, '') || ' ' || transaction_timestamp as r from transaction_log`,
    `select 'offer ' || seller_user_id || ' ' || energy_kwh || ' ' || remaining_kwh || ' ' || price_idrs_per_kwh || ' ' || status || ' ' || created_at as r from market_offer`,
    `select 'trade ' || buyer_user_id || ' ' || seller_user_id || ' ' || traded_energy_kwh || ' ' || total_idrs || ' ' || tx_hash as r from market_trade`,
  ]) rows.push(...(await db.query(sql)).map(row => row.r));
  return rows.sort();
}

describe('scenario settlement-heavy', () => {
  let api: Api;

  beforeAll(async () => {
    api = await startApi('scenario_settlements');
  });
  afterAll(async () => {
    await api?.close();
  });

  it('holds months of 15-minute settlements the market would accept: within capacity, after the claim, in the past, never overlapping; the wallet holds their sum', async () => {
    await seedFixtures(api.app.orm.em.fork(), OPTIONS);
    const summary = await seedScenario(api.app.orm.em.fork(), 'settlement-heavy', OPTIONS);
    expect(summary.tables).toEqual([
      { label: 'users', rows: 1 },
      { label: 'wallets', rows: 1 },
      { label: 'smart meters', rows: 3 },
      { label: 'settlements', rows: 13_248 },
      { label: 'transaction logs', rows: 13_248 },
    ]);
    expect(summary.inserted).toBe(summary.rows);
    expect(summary.login).toEqual({ email: 'settlement-heavy@enerlink.example', password: 'password' });
    const [check] = await api.db.query(
      `select count(*)::int as settlements,
         count(*) filter (where s.net_kwh * 3600000 > m.capacity_kw * extract(epoch from s.period_end - s.period_start) * 1000)::int as over_capacity,
         count(*) filter (where s.period_start < m.claimed_at or s.period_end > now() or s.net_kwh <= 0)::int as refused,
         count(*) filter (where s.period_end - s.period_start <> interval '15 minutes')::int as not_a_quarter,
         count(distinct s.meter_id)::int as meters, (max(s.period_end) - min(s.period_start)) > interval '90 days' as months
       from energy_settlement s join smart_meter m using (meter_id) where m.user_id = ?`,
      [HEAVY_USER],
    );
    expect(check).toEqual({ settlements: 13_248, over_capacity: 0, refused: 0, not_a_quarter: 0, meters: 3, months: true });
    const overlaps = await api.db.query(
      `select count(*)::int as n from energy_settlement a join energy_settlement b
         on a.meter_id = b.meter_id and a.settlement_id < b.settlement_id and a.period_start < b.period_end and a.period_end > b.period_start
       join smart_meter m on m.meter_id = a.meter_id where m.user_id = ?`,
      [HEAVY_USER],
    );
    expect(overlaps).toEqual([{ n: 0 }]);
    const [ledger] = await api.db.query(
      `select w.energy_balance > 0 as credited,
         w.energy_balance = (select sum(net_kwh) from energy_settlement s join smart_meter m using (meter_id) where m.user_id = w.user_id) as balance_is_settled,
         w.energy_balance = (select sum(amount) from transaction_log l where l.user_id = w.user_id and transaction_type = 'ENERGY_SETTLEMENT') as balance_is_logged
       from wallet w where w.user_id = ?`,
      [HEAVY_USER],
    );
    expect(ledger).toEqual({ credited: true, balance_is_settled: true, balance_is_logged: true });
  });

  it("the service takes the meter's next signed settlement after the seeded ones, and refuses one overlapping them", async () => {
    const [meter] = await api.db.query(
      `select m.meter_id, m.device_key, m.capacity_kw::text as capacity, max(s.period_end) as last_end
         from smart_meter m join energy_settlement s using (meter_id) where m.user_id = ? group by m.meter_id order by m.meter_id limit 1`,
      [HEAVY_USER],
    );
    const device = { meterId: meter.meter_id, deviceKey: meter.device_key, pairingCode: '' };
    const lastEnd = new Date(meter.last_end).getTime();
    const quarter = (startMs: number) => ({ periodStart: new Date(startMs).toISOString(), periodEnd: new Date(startMs + 15 * 60_000).toISOString(), netKwh: '0.5' });
    expectProblem(await settle(api, device, quarter(lastEnd - 15 * 60_000)), 409, 'SETTLEMENT_OVERLAP');
    const next = await settle(api, device, quarter(lastEnd));
    expect(next.statusCode, next.body).toBe(201);
    expect(next.json().meterId).toBe(meter.meter_id);
  });

  it('a second run inserts nothing; POST /admin/seed builds it too; the cleanup removes exactly its rows', async () => {
    const again = await seedScenario(api.app.orm.em.fork(), 'settlement-heavy', OPTIONS);
    expect(again.inserted).toBe(0);
    const byApi = await adminCall(api, 'POST', '/admin/seed', { scenario: 'settlement-heavy', seed: OPTIONS.seed });
    expect(byApi.statusCode, byApi.body).toBe(200);
    expect(byApi.json()).toMatchObject({ scenario: 'settlement-heavy', inserted: 0, login: { email: 'settlement-heavy@enerlink.example' } });
    expectProblem(await adminCall(api, 'POST', '/admin/seed', { scenario: 'settlement-heavy', users: 4 }), 400, 'CONFLICTING_OPTIONS');
    const heavyMeters: string[] = (await api.db.query('select meter_id from smart_meter where user_id = ?', [HEAVY_USER])).map(row => row.meter_id);
    const others = async () => (await contents(api.db)).filter(row => !row.includes(HEAVY_USER) && !heavyMeters.some(meter => row.includes(meter)));
    const baseSettlements = async () => (await api.db.query(`select count(*)::int as n from energy_settlement s join smart_meter m using (meter_id) where m.user_id <> ?`, [HEAVY_USER]))[0].n;
    const before = { rows: await others(), settlements: await baseSettlements() };
    const removed = await cleanupFixtures(api.app.orm.em.fork(), 'settlement-heavy', DEV);
    expect(removed.runs).toEqual([{ scenario: 'settlement-heavy', seed: OPTIONS.seed, households: 1 }]);
    // the one settlement the service took above goes too: it depends on the scenario's meter
    expect(Object.fromEntries(removed.tables.filter(t => t.rows > 0).map(t => [t.label, t.rows]))).toEqual({
      users: 1, wallets: 1, 'smart meters': 3, settlements: 13_249, 'transaction logs': 13_249,
    });
    expect(await others()).toEqual(before.rows);
    expect(await baseSettlements()).toBe(before.settlements);
    expect(await api.db.query('select count(*)::int as n from "user" where user_id = ?', [HEAVY_USER])).toEqual([{ n: 0 }]);
  });
});

describe('scenario large-market', () => {
  const dbs: TestDatabase[] = [];
  const orms: MikroORM[] = [];
  afterAll(async () => {
    for (const orm of orms) await orm.close();
    for (const db of dbs) await db.drop();
  });
  const migrated = async (label: string) => {
    const db = await createTestDatabase(label);
    const orm = await createTestOrm(db);
    await migrateTestDatabase(orm);
    dbs.push(db);
    orms.push(orm);
    return { db, orm };
  };

  it('the same SEED and size give the same rows on two databases, beside the base set and apart from it; a second run inserts nothing', async () => {
    const [one, two] = [await migrated('large_market_a'), await migrated('large_market_b')];
    const sized = { ...OPTIONS, users: 2_500, trades: 1_000 };
    for (const { orm } of [one, two]) await seedFixtures(orm.em.fork(), OPTIONS);
    const first = await seedScenario(one.orm.em.fork(), 'large-market', sized);
    const second = await seedScenario(two.orm.em.fork(), 'large-market', sized);
    expect(first.tables.find(t => t.label === 'users')!.rows).toBe(2_500);
    expect(first.tables.find(t => t.label === 'trades')!.rows).toBe(1_000);
    expect(first.inserted).toBe(first.rows);
    expect(first.login.email).toBe('large-market@enerlink.example');
    const [a, b] = [await contents(one.db), await contents(two.db)];
    expect(a.length).toBe(first.rows + OPTIONS.users * 9 + OPTIONS.trades * 3);
    expect(b).toEqual(a);
    // its own households: none is a base-set user, and the base set is all there
    expect(await one.db.query(`select count(*)::int as n from "user"`)).toEqual([{ n: 2_500 + OPTIONS.users }]);
    expect((await seedScenario(one.orm.em.fork(), 'large-market', sized)).inserted).toBe(0);
    // bigger later: only the new households are written; cleanup then removes them all, and only them
    const grown = await seedScenario(one.orm.em.fork(), 'large-market', { ...sized, users: 3_000, trades: 0 });
    expect(grown.inserted).toBe(500 * 9);
    const baseOnly = await contents(two.db);
    await cleanupFixtures(two.orm.em.fork(), 'large-market', DEV);
    const removed = await cleanupFixtures(one.orm.em.fork(), 'large-market', DEV);
    expect(removed.runs).toEqual([{ scenario: 'large-market', seed: OPTIONS.seed, households: 3_000 }]);
    expect(removed.tables.find(t => t.label === 'users')!.rows).toBe(3_000);
    expect(await contents(one.db)).toEqual(await contents(two.db));
    expect((await contents(two.db)).length).toBe(baseOnly.length - first.rows);
  });

  it('from the command line: --users with progress on stderr and the login on stdout; seeder:run --class LargeMarketSeeder takes SEED_USERS; SettlementHeavySeeder prints what it made', async () => {
    const { db } = await migrated('large_market_cli');
    const env = { DATABASE_URL: db.url, NODE_ENV: 'development' };
    const cli = await runCommand(['src/cli/seed.ts', '--scenario', 'large-market', '--users', '12000', '--seed', '5'], env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toMatch(/^seeding: [\d,]+\/108,000 rows/m);
    expect(cli.stdout).toMatch(/^Seeded scenario large-market \(seed 5\): 12,000 users, 12,000 wallets, 12,000 smart meters, .*108,000 rows, 108,000 new/m);
    expect(cli.stdout).toContain('Login: large-market@enerlink.example / password');
    const seeder = await runCommand([MIKRO_ORM_CLI, 'seeder:run', '--class', 'LargeMarketSeeder'], { ...env, SEED: '5', SEED_USERS: '12001' });
    expect(seeder.code, seeder.stderr).toBe(0);
    expect(seeder.stdout).toMatch(/12,001 users.*108,009 rows, 9 new/);
    const heavy = await runCommand([MIKRO_ORM_CLI, 'seeder:run', '--class', 'SettlementHeavySeeder'], { ...env, SEED: '5' });
    expect(heavy.code, heavy.stderr).toBe(0);
    expect(heavy.stdout).toContain('Seeded scenario settlement-heavy (seed 5): 1 users, 1 wallets, 3 smart meters, 13,248 settlements, 13,248 transaction logs; 26,501 rows, 26,501 new');
    expect(heavy.stdout).toContain('Login: settlement-heavy@enerlink.example / password');
    const byScript = await runCommand(['src/cli/seed.ts', '--scenario', 'settlement-heavy', '--seed', '5'], env);
    expect(byScript.stdout).toContain('26,501 rows, 0 new');
    const fixed = await runCommand(['src/cli/seed.ts', '--scenario', 'power-trader', '--users', '5'], env);
    expect(fixed.code).toBe(1);
    expect(fixed.stderr).toBe('enerlink: scenario power-trader has a fixed size: it takes --seed, not --users or --trades\n');
  });
});
