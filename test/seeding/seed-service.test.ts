import { compareSync } from 'bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { UserFactory } from '../../seeders/factories/UserFactory.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { EventBus, type EventMap } from '../../src/events/event-bus.ts';
import { DEMO_LOGIN, FixtureSet, fixturePasswordHash } from '../../src/seeding/fixture-set.ts';
import { runSeed, SeedRefusedError, type SeedContext, type SeedOptions, type SeedReporter } from '../../src/seeding/seed-service.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { dumpTables } from '../legacy-data.ts';

const TABLES = ['user', 'wallet', 'smart_meter', 'energy_settlement', 'idrs_conversion', 'market_offer', 'market_trade', 'transaction_log'];
const DEFAULTS: SeedOptions = { seed: 1, users: 5, trades: 0, allowProduction: false, isProduction: false };

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of cleanup.reverse()) await close();
});

/** A new database migrated to the latest version, with an ORM on it. */
async function migratedDatabase(label: string): Promise<{ db: TestDatabase; orm: MikroORM }> {
  const db = await createTestDatabase(label);
  cleanup.push(() => db.drop());
  const orm = await createTestOrm(db);
  cleanup.push(() => orm.close());
  await migratorOf(orm).up();
  return { db, orm };
}

function seed(orm: MikroORM, options: Partial<SeedOptions> = {}, context: SeedContext = {}) {
  return runSeed(orm.em.fork(), { ...DEFAULTS, ...options }, { events: new EventBus(), ...context });
}

async function count(db: TestDatabase, table: string): Promise<number> {
  const [row] = await db.query(`select count(*)::int as n from "${table}"`);
  return row.n;
}

async function counts(db: TestDatabase): Promise<Record<string, number>> {
  return Object.fromEntries(await Promise.all(TABLES.map(async table => [table, await count(db, table)])));
}

/** Users without exactly one wallet and one meter, and wallets or meters without their user. */
async function householdDefects(db: TestDatabase) {
  return db.query(`
    select 'user ' || u.user_id as defect from "user" u
      where (select count(*) from wallet w where w.user_id = u.user_id) <> 1
         or (select count(*) from smart_meter m where m.user_id = u.user_id) <> 1
    union all select 'wallet ' || w.wallet_address from wallet w where not exists (select 1 from "user" u where u.user_id = w.user_id)
    union all select 'meter ' || m.meter_id from smart_meter m where not exists (select 1 from "user" u where u.user_id = m.user_id)`);
}

describe('the default fixture set', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  const published: Array<EventMap['seed.completed']> = [];

  beforeAll(async () => {
    ({ db, orm } = await migratedDatabase('seed_default'));
    const events = new EventBus();
    events.on('seed.completed', payload => void published.push(payload));
    await runSeed(orm.em.fork(), DEFAULTS, { events });
  });

  it('is 5 users, each with exactly one wallet and one smart meter of its own', async () => {
    expect(await counts(db)).toEqual({ user: 5, wallet: 5, smart_meter: 5, energy_settlement: 5, idrs_conversion: 5, market_offer: 5, market_trade: 0, transaction_log: 15 });
    expect(await householdDefects(db)).toEqual([]);
  });

  it('is a market of the shape the API keeps: claimed meters with settlements within capacity, paid conversions, offers within balance', async () => {
    // every meter provisioned, claimed by its household and holding a device key
    expect(await db.query(`select count(*)::int as n from smart_meter where user_id is null or claimed_at is null or device_key is null or provisioned_at is null`)).toEqual([{ n: 0 }]);
    // settlements: after the claim, 1 minute to 24 hours, at most capacity x hours, each with its ledger row
    expect(await db.query(`select count(*)::int as n from energy_settlement s join smart_meter m using (meter_id)
      where s.period_start < m.claimed_at or s.period_end <= s.period_start or s.period_end > now() or s.status <> 'SETTLED' or s.net_kwh <= 0
         or s.net_kwh > m.capacity_kw * extract(epoch from s.period_end - s.period_start) / 3600
         or (select count(*) from transaction_log l where l.user_id = m.user_id and l.transaction_type = 'ENERGY_SETTLEMENT' and l.amount = s.net_kwh) <> 1`)).toEqual([{ n: 0 }]);
    // conversions: COMPLETED by the gateway with a payment id, the IDRS the wallet holds, a ledger row per state change
    expect(await db.query(`select count(*)::int as n from idrs_conversion c join wallet w using (wallet_address)
      where c.status <> 'COMPLETED' or c.payment_id is null or c.settled_by <> 'gateway' or (w.idrs_balance >= 1 and c.idrs_amount <> w.idrs_balance)
         or (select count(*) from transaction_log l where l.user_id = c.user_id and l.description like 'conversion ' || c.payment_id || ':%') <> 2`)).toEqual([{ n: 0 }]);
    // offers: an open one never reserves more than its seller holds, or belongs to an inactive wallet
    expect(await db.query(`select count(*)::int as n from market_offer o join wallet w on w.user_id = o.seller_user_id
      where o.status = 'OPEN' and (o.remaining_kwh > w.energy_balance or not w.is_active or o.expires_at <= now())`)).toEqual([{ n: 0 }]);
    expect((await db.query(`select count(*)::int as n from market_offer where status = 'OPEN'`))[0].n).toBeGreaterThan(0);
  });

  it('has user_ ids, unique emails, and wallet addresses and meter serials shaped like real ones', async () => {
    const users = await db.query('select user_id, email from "user"');
    for (const { user_id } of users) expect(user_id).toMatch(/^user_(demo|\d{13}_[0-9a-z]{8})$/);
    expect(new Set(users.map(user => user.email)).size).toBe(5);
    for (const { wallet_address } of await db.query('select wallet_address from wallet')) expect(wallet_address).toMatch(/^0x[0-9a-f]{40}$/);
    for (const { meter_id } of await db.query('select meter_id from smart_meter')) expect(meter_id).toMatch(/^MTR-[0-9A-Z]{10}$/);
  });

  it('stores "password" as a bcrypt hash that a login verifies', async () => {
    const users = await db.query('select email, password_hash from "user"');
    // every fixture user shares one hash (bcrypt cost 12 is ~250 ms a check)
    const hashes = new Set(users.map(user => user.password_hash as string));
    expect(hashes.size).toBe(1);
    for (const hash of hashes) {
      expect(hash).toMatch(/^\$2b\$12\$.{53}$/);
      expect(compareSync(DEMO_LOGIN.password, hash)).toBe(true);
      expect(compareSync('Password', hash)).toBe(false);
    }
    expect(users.map(user => user.email)).toContain(DEMO_LOGIN.email);
  });

  it('publishes seed.completed with the set and its seed', () => {
    expect(published).toEqual([{ users: 5, wallets: 5, meters: 5, seed: 1 }]);
  });

  it('households that lost their wallet or meter get it back, and nothing else changes', async () => {
    const before = await dumpTables(db, TABLES);
    // the cascade takes the wallets' conversions and the meter's settlement with them
    await db.query(`delete from wallet where user_id <> 'user_demo'`);
    await db.query(`delete from smart_meter where user_id = 'user_demo'`);
    await expect(seed(orm)).resolves.toMatchObject({ inserted: 10 });
    const after = await dumpTables(db, TABLES);
    // rows that came back have new generated ids, and nothing else new
    const withoutIds = (rows: string) => JSON.parse(rows).map(({ settlement_id: _, conversion_id: __, ...row }: Record<string, unknown>) => JSON.stringify(row)).sort();
    for (const table of TABLES) expect(withoutIds(after[table]), table).toEqual(withoutIds(before[table]));
  });

  it('a second run changes nothing', async () => {
    const before = await dumpTables(db, TABLES);
    const summary = await seed(orm);
    expect(summary).toMatchObject({ rows: 45, inserted: 0 });
    expect(await dumpTables(db, TABLES)).toEqual(before);
  });
});

describe('determinism', () => {
  it('the same seed on two empty databases gives identical contents; another seed gives other users', async () => {
    const first = await migratedDatabase('seed_same_a');
    const second = await migratedDatabase('seed_same_b');
    await seed(first.orm, { seed: 7, users: 40, trades: 25 });
    await seed(second.orm, { seed: 7, users: 40, trades: 25 });
    const contents = await dumpTables(first.db, TABLES);
    expect(await dumpTables(second.db, TABLES)).toEqual(contents);
    expect(JSON.parse(contents.market_trade)).toHaveLength(25);

    await seed(second.orm, { seed: 8, users: 40 });
    // 39 new households; the demo household is the same for every seed
    expect(await count(second.db, 'user')).toBe(79);
    expect(await householdDefects(second.db)).toEqual([]);
  });

  it('factories used the MikroORM way build the same rows as the seeder', async () => {
    const { orm } = await migratedDatabase('seed_factory');
    const fixtures = new FixtureSet(3, fixturePasswordHash(3));
    const em = orm.em.fork();
    const [demo, second] = await new UserFactory(em, fixtures).create(2);
    expect(demo).toMatchObject({ userId: DEMO_LOGIN.userId, email: DEMO_LOGIN.email });
    expect(second).toMatchObject(new UserFactory(em, fixtures).row(1));
    await expect(seed(orm, { seed: 3, users: 3 })).resolves.toMatchObject({ inserted: 25 });
  });
});

describe('a database with other data', () => {
  it('keeps its users and adds the fixture set beside them', async () => {
    const { db, orm } = await migratedDatabase('seed_existing');
    await db.query(`insert into "user" (user_id, name, email, password_hash) values ('user_real', 'Real Person', 'real@example.id', 'x')`);
    await db.query(`insert into wallet (wallet_address, user_id) values ('0x${'1'.repeat(40)}', 'user_real')`);
    const before = await db.query(`select * from "user" where user_id = 'user_real'`);
    await seed(orm);
    await seed(orm);
    expect(await count(db, 'user')).toBe(6);
    expect(await count(db, 'wallet')).toBe(6);
    expect(await db.query(`select * from "user" where user_id = 'user_real'`)).toEqual(before);
  });
});

describe('the production guard', () => {
  it('refuses NODE_ENV=production without SEED_ALLOW_PRODUCTION=1 and writes nothing', async () => {
    const { db, orm } = await migratedDatabase('seed_prod');
    const published: unknown[] = [];
    const events = new EventBus();
    events.on('seed.completed', payload => void published.push(payload));
    await expect(runSeed(orm.em.fork(), { ...DEFAULTS, isProduction: true }, { events })).rejects.toThrow(SeedRefusedError);
    expect(Object.values(await counts(db))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(published).toEqual([]);
  });

  it('seeds with SEED_ALLOW_PRODUCTION=1, after a warning', async () => {
    const { db, orm } = await migratedDatabase('seed_prod_allowed');
    const warnings: string[] = [];
    const reporter: SeedReporter = { warn: message => void warnings.push(message), progress() {}, completed() {} };
    await seed(orm, { isProduction: true, allowProduction: true }, { reporter });
    expect(warnings).toEqual([expect.stringContaining('PRODUCTION')]);
    expect(await count(db, 'user')).toBe(5);
  });
});

describe('an unmigrated database', () => {
  it('is refused with a hint', async () => {
    const db = await createTestDatabase('seed_unmigrated');
    cleanup.push(() => db.drop());
    const orm = await createTestOrm(db);
    cleanup.push(() => orm.close());
    await expect(seed(orm)).rejects.toThrow('the database is not migrated (no table energy_settlement, idrs_conversion, market_offer, smart_meter, transaction_log, user, wallet): run npm run migration:up first');
  });
});

describe('a large set', () => {
  it('20k users with trades: every count right, no orphan, no duplicate', async () => {
    const { db, orm } = await migratedDatabase('seed_large');
    const progress: number[] = [];
    const reporter: SeedReporter = { warn() {}, progress: done => void progress.push(done), completed() {} };
    const summary = await seed(orm, { users: 20_000, trades: 3_000 }, { reporter });
    expect(summary).toMatchObject({ users: 20_000, rows: 189_000, inserted: 189_000 });
    expect(progress.at(-1)).toBe(189_000);
    expect(await counts(db)).toEqual({
      user: 20_000,
      wallet: 20_000,
      smart_meter: 20_000,
      energy_settlement: 20_000,
      idrs_conversion: 20_000,
      market_offer: 20_000,
      market_trade: 3_000,
      transaction_log: 66_000,
    });
    expect(await householdDefects(db)).toEqual([]);
    const [distinct] = await db.query('select count(distinct email)::int as emails, count(distinct lower(email))::int as lower_emails from "user"');
    expect(distinct).toEqual({ emails: 20_000, lower_emails: 20_000 });
    const [trades] = await db.query(`select count(*)::int as bad from market_trade t
      where t.buyer_user_id = t.seller_user_id
         or (select count(*) from transaction_log l where l.tx_hash = t.tx_hash) <> 2`);
    expect(trades.bad).toBe(0);
  });
});
