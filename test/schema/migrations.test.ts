import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { INITIAL_MIGRATION } from '../../src/schema/adoption.ts';
import { SchemaContractError } from '../../src/schema/migration-errors.ts';
import type { SchemaFingerprint } from '../../src/schema/schema-fingerprint.ts';
import { createLegacyDatabase, createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { dumpTables, fillLegacyData } from '../legacy-data.ts';

const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
const CACHE_OUTBOX = 'Migration20261121000001_CacheOutbox';
const MARKET = 'Migration20261201000001_MarketIntegrity';
const LIMITS = 'Migration20261202000001_LimitDefaults';
const ALL = [INITIAL_MIGRATION, RENAME, INDEXES, CACHE_OUTBOX, MARKET, LIMITS];
const LEGACY_TABLES = ['prosumer', 'wallet', 'smart_meter', 'transaction_log', 'market_trade', 'idrs_conversion', 'token_blacklist', 'energy_settlement'];
const CURRENT_TABLES = LEGACY_TABLES.map(table => (table === 'prosumer' ? 'user' : table));
/** enerlink's own tables, outside the legacy contract. */
const SERVICE_TABLES = ['cache_outbox'];
/** Tables of the market (issue 14), beside the contract. */
const MARKET_TABLES = ['market_offer', 'user_limit', 'limit_defaults'];

/** Column renames of the rename migration, to compare legacy rows with renamed rows. */
const RENAMED_COLUMNS: Record<string, string> = {
  prosumer_id: 'user_id',
  buyer_prosumer_id: 'buyer_user_id',
  seller_prosumer_id: 'seller_user_id',
};

let contract: TestDatabase;
let contractShape: SchemaFingerprint;
const cleanup: Array<() => Promise<unknown>> = [];

async function withOrm(db: TestDatabase): Promise<MikroORM> {
  const orm = await createTestOrm(db);
  cleanup.push(() => orm.close());
  return orm;
}

async function executedNames(db: TestDatabase): Promise<string[]> {
  return (await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name);
}

beforeAll(async () => {
  contract = await createLegacyDatabase('contract');
  contractShape = await contract.fingerprint();
});

afterAll(async () => {
  for (const close of cleanup.reverse()) await close();
  await contract.drop();
});

describe('on an empty database', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase('empty');
    cleanup.push(() => db.drop());
    orm = await withOrm(db);
  });

  it('the initial migration produces exactly the legacy contract', async () => {
    await migratorOf(orm).up({ to: INITIAL_MIGRATION });
    expect(await db.fingerprint()).toEqual(contractShape);
    expect(Object.keys(contractShape).sort()).toEqual([...LEGACY_TABLES].sort());
  });

  it('the rename, index and outbox migrations produce the post-rename shape the entities map', async () => {
    await migratorOf(orm).up();
    expect(await executedNames(db)).toEqual(ALL);
    const shape = await db.fingerprint();
    expect(Object.keys(shape).sort()).toEqual([...CURRENT_TABLES, ...SERVICE_TABLES, ...MARKET_TABLES].sort());
    expect(shape.user.comment).toBe('User accounts table (formerly prosumer)');
    expect(shape.user.columns.user_id).toMatchObject({ type: 'character varying(64)', notNull: true, comment: 'Unique identifier for user' });
    expect(shape.user.constraints).toEqual({ user_pkey: 'PRIMARY KEY (user_id)', user_email_unique: 'UNIQUE (email)' });
    expect(shape.wallet.constraints.wallet_user_id_fkey).toBe('FOREIGN KEY (user_id) REFERENCES "user"(user_id) ON DELETE CASCADE');
    expect(shape.market_trade.constraints).toMatchObject({
      market_trade_buyer_user_id_fkey: 'FOREIGN KEY (buyer_user_id) REFERENCES "user"(user_id) ON DELETE CASCADE',
      market_trade_seller_user_id_fkey: 'FOREIGN KEY (seller_user_id) REFERENCES "user"(user_id) ON DELETE CASCADE',
    });
    expect(Object.keys(shape.market_trade.indexes).sort()).toEqual(['idx_markettrade_buyer_user', 'idx_markettrade_offer_id', 'idx_markettrade_seller_user', 'market_trade_pkey']);
    // the market's one change to a contract column is a widening: a provisioned meter has no user yet
    expect(shape.smart_meter.columns.user_id).toMatchObject({ notNull: false });
    expect(shape.wallet.indexes.idx_wallet_user_active).toBe(
      'CREATE INDEX idx_wallet_user_active ON wallet USING btree (user_id, is_active) WHERE (is_active = true)',
    );
    expect(shape.smart_meter.indexes.idx_smartmeter_user_status).toBe(
      'CREATE INDEX idx_smartmeter_user_status ON smart_meter USING btree (user_id, status)',
    );
    // nothing anywhere still says prosumer
    expect(JSON.stringify(shape)).not.toMatch(/prosumer_/);
    expect(Object.keys(shape.cache_outbox.columns)).toEqual(['id', 'generation', 'migrations', 'created_at', 'claimed_until', 'purged_at', 'purged_keys']);
    expect(shape.cache_outbox.indexes.idx_cacheoutbox_pending).toBe(
      'CREATE INDEX idx_cacheoutbox_pending ON cache_outbox USING btree (id) WHERE (purged_at IS NULL)',
    );
  });

  it('leaves no difference between the entities and the database (migration:check)', async () => {
    expect(await migratorOf(orm).checkSchema()).toBe(false);
  });

  it('goes down to the legacy schema exactly, and up again', async () => {
    await migratorOf(orm).down({ to: INITIAL_MIGRATION });
    expect(await executedNames(db)).toEqual([INITIAL_MIGRATION]);
    expect(await db.fingerprint()).toEqual(contractShape);
    await migratorOf(orm).up();
    expect(await executedNames(db)).toEqual(ALL);
    expect(await migratorOf(orm).checkSchema()).toBe(false);
  });

  it('goes down to nothing and up/down/up again', async () => {
    const shape = await db.fingerprint();
    await migratorOf(orm).down({ to: 0 });
    expect(await db.fingerprint()).toEqual({});
    await migratorOf(orm).up();
    await migratorOf(orm).down({ to: INDEXES });
    expect(await executedNames(db)).toEqual([INITIAL_MIGRATION, RENAME, INDEXES]);
    expect(Object.keys(await db.fingerprint())).not.toContain('cache_outbox');
    await migratorOf(orm).up();
    expect(await db.fingerprint()).toEqual(shape);
  });
});

describe('adopting a deployed legacy database', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let before: Record<string, string>;

  beforeAll(async () => {
    db = await createLegacyDatabase('adopt');
    cleanup.push(() => db.drop());
    await fillLegacyData(db, 500, 3);
    before = await dumpTables(db, LEGACY_TABLES);
    orm = await withOrm(db);
  });

  it('records the initial migration without running it and applies the rest', async () => {
    const applied = await migratorOf(orm).up();
    expect(applied.map(m => m.name)).toEqual([RENAME, INDEXES, CACHE_OUTBOX, MARKET, LIMITS]);
    expect(await executedNames(db)).toEqual(ALL);
    expect(await migratorOf(orm).checkSchema()).toBe(false);
  });

  it('keeps every row and every value', async () => {
    const after = await dumpTables(db, CURRENT_TABLES);
    for (const table of LEGACY_TABLES) {
      const renamed = table === 'prosumer' ? 'user' : table;
      const legacyRows = JSON.parse(before[table]) as Array<Record<string, unknown>>;
      const expected = legacyRows.map(row => Object.fromEntries(Object.entries(row).map(([key, value]) => [RENAMED_COLUMNS[key] ?? key, value])));
      expect(legacyRows.length).toBeGreaterThan(0);
      // the market's columns are added beside the contract's, empty on every adopted row
      const afterRows = JSON.parse(after[renamed]) as Array<Record<string, unknown>>;
      const contractColumns = Object.keys(expected[0]);
      expect(afterRows.map(row => Object.fromEntries(contractColumns.map(column => [column, row[column]]))), table).toEqual(expected);
      const added = afterRows.flatMap(row => Object.entries(row).filter(([column]) => !contractColumns.includes(column)).map(([, value]) => value));
      expect(added.filter(value => value !== null), table).toEqual([]);
    }
  });

  it('goes back to the legacy schema with the same rows', async () => {
    await migratorOf(orm).down({ to: INITIAL_MIGRATION });
    expect(await db.fingerprint()).toEqual(contractShape);
    expect(await dumpTables(db, LEGACY_TABLES)).toEqual(before);
  });
});

describe('the rename migration', () => {
  it('renames in place: no table, constraint or index is dropped and re-created', async () => {
    const db = await createLegacyDatabase('inplace');
    cleanup.push(() => db.drop());
    await fillLegacyData(db, 50);
    const identities = `
      select 'rel:' || c.oid as id from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'i', 'S')
      union all
      select 'con:' || con.oid from pg_constraint con join pg_namespace n on n.oid = con.connamespace where n.nspname = 'public'
      order by 1`;
    const beforeIds = await db.query(identities);
    const orm = await withOrm(db);
    await migratorOf(orm).up({ to: RENAME });
    const afterIds = await db.query(identities);
    // same objects (oids); the only new relation is MikroORM's own migrations table and its sequence/index
    const before = new Set(beforeIds.map(row => row.id));
    const survivors = afterIds.filter(row => before.has(row.id));
    expect(survivors.length).toBe(before.size);
    const [{ count }] = await db.query(`select count(*)::int as count from pg_class where relname like '%prosumer%'`);
    expect(count).toBe(0);
  });
});

describe('a database that differs from the contract', () => {
  it('is refused with the differences, and nothing is changed', async () => {
    const db = await createLegacyDatabase('differs');
    cleanup.push(() => db.drop());
    await db.query('alter table wallet alter column wallet_name type varchar(120)');
    await db.query('drop index idx_smartmeter_prosumer_id');
    await db.query('alter table smart_meter add column firmware text');
    const shape = await db.fingerprint();
    const orm = await withOrm(db);
    const error = await migratorOf(orm).up().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchemaContractError);
    expect((error as SchemaContractError).differences).toEqual([
      'table smart_meter: column firmware: not in the contract',
      'table smart_meter: index idx_smartmeter_prosumer_id: missing',
      'table wallet: column wallet_name: type character varying(120), expected character varying(100)',
    ]);
    expect(await db.fingerprint()).toEqual(shape);
    expect(await executedNames(db)).toEqual([]);
  });
});
