import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { INITIAL_MIGRATION } from '../../src/schema/adoption.ts';
import { SchemaContractError } from '../../src/schema/migration-errors.ts';
import { COMPOSITE_INDEXES_MIGRATION, PREVIOUS_BACKEND_MIGRATIONS_TABLE, RENAME_MIGRATION } from '../../src/schema/legacy-adoption.ts';
import type { SchemaFingerprint } from '../../src/schema/schema-fingerprint.ts';
import { createLegacyDatabase, createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { dumpTables, fillLegacyData } from '../legacy-data.ts';
import { ALL_IN_ONE_SCRIPT, createTypeOrmMigrationsTable, GUIDE_STEPS, ROLLBACK_SCRIPT, runAsOperator } from '../previous-backend-script.ts';

const CACHE_OUTBOX = 'Migration20261121000001_CacheOutbox';
const MARKET = 'Migration20261201000001_MarketIntegrity';
const LIMITS = 'Migration20261202000001_LimitDefaults';
const ALL = [INITIAL_MIGRATION, RENAME_MIGRATION, COMPOSITE_INDEXES_MIGRATION, CACHE_OUTBOX, MARKET, LIMITS];
const TABLES = ['user', 'wallet', 'smart_meter', 'transaction_log', 'market_trade', 'idrs_conversion', 'token_blacklist', 'energy_settlement'];
const RENAMED_COLUMNS: Record<string, string> = { prosumer_id: 'user_id', buyer_prosumer_id: 'buyer_user_id', seller_prosumer_id: 'seller_user_id' };

/** The guide's step-by-step blocks whose heading starts with one of `headings`, in the guide's order. */
function steps(...headings: string[]): string[] {
  return GUIDE_STEPS.filter(step => headings.some(heading => step.heading.startsWith(heading))).map(step => step.sql);
}
const EVERY_STEP = GUIDE_STEPS.map(step => step.sql);

let fresh: SchemaFingerprint;
const cleanup: Array<() => Promise<unknown>> = [];

async function withOrm(db: TestDatabase, env: Record<string, string> = {}): Promise<MikroORM> {
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: db.url, CACHE_PREFIX: db.name, ...env });
  const orm = await createTestOrm(db, config);
  cleanup.push(() => orm.close());
  return orm;
}

async function executedNames(db: TestDatabase): Promise<string[]> {
  return (await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name);
}

/** The schema without the previous backend's bookkeeping, which is kept as it was and compared apart. */
async function schemaOf(db: TestDatabase): Promise<SchemaFingerprint> {
  const { [PREVIOUS_BACKEND_MIGRATIONS_TABLE]: _typeorm, ...shape } = await db.fingerprint();
  return shape;
}

/** Every row of every table, with the legacy column names a script left given their new names. */
async function rowsOf(db: TestDatabase): Promise<Record<string, unknown[]>> {
  const [{ renamed }] = await db.query(`select to_regclass('public.prosumer') is null as renamed`);
  const dump = await dumpTables(db, renamed ? TABLES : TABLES.map(table => (table === 'user' ? 'prosumer' : table)));
  return Object.fromEntries(
    Object.values(dump).map((rows, i) => [
      TABLES[i],
      (JSON.parse(rows) as Array<Record<string, unknown>>).map(row => Object.fromEntries(Object.entries(row).map(([key, value]) => [RENAMED_COLUMNS[key] ?? key, value]))),
    ]),
  );
}

/** `rows` with only the columns `before` had: what later migrations add (nullable, empty on old rows) is not a change of those rows. */
function asBefore(rows: Record<string, unknown[]>, before: Record<string, unknown[]>): Record<string, unknown[]> {
  return Object.fromEntries(
    Object.entries(rows).map(([table, list]) => {
      const columns = Object.keys((before[table]?.[0] ?? {}) as object);
      return [table, (list as Array<Record<string, unknown>>).map(row => Object.fromEntries(columns.map(column => [column, row[column]])))];
    }),
  );
}

/** A deployed database: the contract, the old backend's rows and bookkeeping, then `script` run as the operator ran it. */
async function deployedDatabase(label: string, script: string[]): Promise<TestDatabase> {
  const db = await createLegacyDatabase(label);
  cleanup.push(() => db.drop());
  await fillLegacyData(db, 300, 2);
  await createTypeOrmMigrationsTable(db);
  await runAsOperator(db, script);
  return db;
}

function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  const db = await createTestDatabase('fresh');
  cleanup.push(() => db.drop());
  const orm = await withOrm(db);
  await migratorOf(orm).up();
  fresh = await db.fingerprint();
});

afterAll(async () => {
  for (const close of cleanup.reverse()) await close();
});

const ADOPT_RENAMED = [INITIAL_MIGRATION, RENAME_MIGRATION];
const REST = [COMPOSITE_INDEXES_MIGRATION, CACHE_OUTBOX, MARKET, LIMITS];

describe.each([
  // the legacy contract as the previous backend created it, with its TypeORM bookkeeping: adopted as it always was
  { state: 'nothing: the legacy contract', script: [], adopted: [INITIAL_MIGRATION], applied: [RENAME_MIGRATION, ...REST], reconciling: 0 },
  // the all-in-one script, exactly as written: PK and unique constraint keep prosumer_* names, token_blacklist untouched, no comments, no composite indexes
  { state: 'the all-in-one script as written', script: [ALL_IN_ONE_SCRIPT], adopted: ADOPT_RENAMED, applied: REST, reconciling: 8 + 4 },
  // the step-by-step guide in full: token_blacklist renamed, comments and composite indexes there, PK still prosumer_pkey
  { state: 'the step-by-step guide in full', script: EVERY_STEP, adopted: [...ADOPT_RENAMED, COMPOSITE_INDEXES_MIGRATION], applied: [CACHE_OUTBOX, MARKET, LIMITS], reconciling: 2 },
  // stopped half way, after the transaction log: old indexes on renamed columns, three tables and the token table in legacy form
  { state: 'the step-by-step guide stopped after step 3.3', script: steps('Step 1', 'Step 2', '3.1', '3.2', '3.3'), adopted: ADOPT_RENAMED, applied: REST, reconciling: 19 },
  // the all-in-one script, then one of the composite indexes by hand: the migration rebuilds it with the other
  {
    state: 'the all-in-one script and one composite index',
    script: [ALL_IN_ONE_SCRIPT, 'CREATE INDEX idx_smartmeter_user_status ON smart_meter(user_id, status)'],
    adopted: ADOPT_RENAMED,
    applied: REST,
    reconciling: 12,
  },
  // the step-by-step guide, its composite index build interrupted (what a cancelled CREATE INDEX CONCURRENTLY leaves: INVALID)
  {
    state: 'the step-by-step guide with an INVALID composite index',
    script: [...EVERY_STEP, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_wallet_user_active'::regclass`],
    adopted: ADOPT_RENAMED,
    applied: REST,
    reconciling: 2,
  },
])('a database left by $state', ({ script, adopted, applied, reconciling }) => {
  let db: TestDatabase;
  let orm: MikroORM;
  let rowsBefore: Record<string, unknown[]>;
  let typeormBefore: unknown[];

  beforeAll(async () => {
    db = await deployedDatabase('renamed', script);
    rowsBefore = await rowsOf(db);
    typeormBefore = await db.query('select * from migrations order by id');
    orm = await withOrm(db);
  });

  it('a dry run shows the adoption and its reconciling SQL, and changes nothing', async () => {
    const shape = await db.fingerprint();
    const report = await migratorOf(orm).pipeline.dryRun('up');
    expect(report.migrations.filter(step => step.action === 'adopt').map(step => step.name)).toEqual(adopted);
    const sql = report.migrations.filter(step => step.action === 'adopt').flatMap(step => step.sql);
    expect(sql).toHaveLength(reconciling);
    expect(sql.every(statement => /^(ALTER (TABLE|INDEX) \S+ RENAME|COMMENT ON )/.test(statement))).toBe(true);
    expect(await db.fingerprint()).toEqual(shape);
    expect(await executedNames(db)).toEqual([]);
  });

  it('is adopted and ends in exactly the schema of a fresh install', async () => {
    expect((await migratorOf(orm).up()).map(m => m.name)).toEqual(applied);
    expect(await executedNames(db)).toEqual(ALL);
    expect(await schemaOf(db)).toEqual(fresh);
    expect(await migratorOf(orm).checkSchema()).toBe(false);
    expect((await migratorOf(orm).pipeline.verify()).ok).toBe(true);
  });

  it('keeps every row, and the previous backend’s migrations table as it was', async () => {
    expect(asBefore(await rowsOf(db), rowsBefore)).toEqual(rowsBefore);
    for (const table of TABLES) expect(rowsBefore[table].length, table).toBeGreaterThan(0);
    expect(await db.query('select * from migrations order by id')).toEqual(typeormBefore);
  });

  it('a second up does nothing', async () => {
    const shape = await db.fingerprint();
    const report = await migratorOf(orm).pipeline.run('up');
    expect(report.status).toBe('nothing to do');
    expect(await executedNames(db)).toEqual(ALL);
    expect(await db.fingerprint()).toEqual(shape);
  });

  it('goes down to the legacy contract and up again like any other database', async () => {
    await migratorOf(orm).down({ to: INITIAL_MIGRATION });
    expect(await executedNames(db)).toEqual([INITIAL_MIGRATION]);
    await migratorOf(orm).up();
    expect(await schemaOf(db)).toEqual(fresh);
    expect(asBefore(await rowsOf(db), rowsBefore)).toEqual(rowsBefore);
  });
});

describe('a database in a state neither the contract nor the script leaves', () => {
  it('stopped between dropping the market trade foreign keys and adding them again: refused, nothing changed', async () => {
    const marketTrade = steps('3.5')[0].split(/;\s*\n/).filter(sql => /^\s*ALTER/m.test(sql));
    const stopped = [...steps('Step 1', 'Step 2', '3.1', '3.2', '3.3', '3.4'), ...marketTrade.slice(0, 4).map(sql => `${sql};`)];
    const db = await deployedDatabase('stopped', stopped);
    const shape = await db.fingerprint();
    const orm = await withOrm(db);
    const error = await refusal(migratorOf(orm).up());
    expect(error).toBeInstanceOf(SchemaContractError);
    expect((error as SchemaContractError).differences).toEqual([
      'table market_trade: constraint market_trade_buyer_user_id_fkey: missing',
      'table market_trade: constraint market_trade_seller_user_id_fkey: missing',
    ]);
    expect((error as Error).message).toMatch(/^Refusing to adopt this database: it has no migration history and its schema differs from the legacy contract in 2 place\(s\)/);
    expect(await db.fingerprint()).toEqual(shape);
    expect(await executedNames(db)).toEqual([]);
  });

  it('renamed by the script and changed since: refused with each difference', async () => {
    const db = await deployedDatabase('changed', [ALL_IN_ONE_SCRIPT]);
    await db.query('alter table wallet add column nickname text');
    await db.query(`comment on table "user" is 'accounts'`);
    await db.query('drop index idx_transactionlog_user_id');
    const shape = await db.fingerprint();
    const orm = await withOrm(db);
    const error = await refusal(migratorOf(orm).pipeline.dryRun('up'));
    expect(error).toBeInstanceOf(SchemaContractError);
    expect((error as SchemaContractError).differences).toEqual([
      'table transaction_log: index idx_transactionlog_user_id: missing',
      'table user: comment "accounts", expected "User accounts table (formerly prosumer)"',
      'table wallet: column nickname: not in the contract',
    ]);
    expect(await refusal(migratorOf(orm).up())).toBeInstanceOf(SchemaContractError);
    expect(await db.fingerprint()).toEqual(shape);
    expect(await executedNames(db)).toEqual([]);
  });

  it('rolled back by the guide’s rollback script (foreign keys without ON DELETE CASCADE): refused', async () => {
    const db = await createLegacyDatabase('rolledback');
    cleanup.push(() => db.drop());
    await runAsOperator(db, ALL_IN_ONE_SCRIPT);
    await runAsOperator(db, ROLLBACK_SCRIPT);
    const orm = await withOrm(db);
    const error = await refusal(migratorOf(orm).up());
    expect(error).toBeInstanceOf(SchemaContractError);
    expect((error as SchemaContractError).differences).toContain(
      'table wallet: constraint wallet_prosumer_id_fkey: FOREIGN KEY (prosumer_id) REFERENCES prosumer(prosumer_id), expected FOREIGN KEY (prosumer_id) REFERENCES prosumer(prosumer_id) ON DELETE CASCADE',
    );
    expect(await executedNames(db)).toEqual([]);
  });
});

describe('adopting under traffic', () => {
  it('waits for a long transaction with lock_timeout and retries, while writers keep writing; all or nothing', async () => {
    const db = await deployedDatabase('traffic', [ALL_IN_ONE_SCRIPT]);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    cleanup.push(() => holder.end().catch(() => {}));

    // a long transaction on the token table: the adoption's rename of token_blacklist.prosumer_id cannot get its lock
    await holder.query('begin');
    await holder.query('select count(*) from token_blacklist');
    const impatient = await withOrm(db, { MIGRATION_DDL_LOCK_TIMEOUT_MS: '100', MIGRATION_DDL_RETRIES: '1' });
    const error = await refusal(migratorOf(impatient).up());
    expect(String(error)).toMatch(/lock timeout/i);
    // nothing of the adoption was kept: no migration recorded, the script's names still there
    expect(await executedNames(db)).toEqual([]);
    const [{ renamed }] = await db.query(`select count(*)::int as renamed from pg_constraint where conname = 'user_pkey'`);
    expect(renamed).toBe(0);

    // writers keep writing during the adoption; the long transaction ends a moment later
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await db.query(`insert into transaction_log (user_id, transaction_type, amount, currency) values ('prosumer_1', 'SETTLEMENT', 1, 'KWH')`);
        written++;
      }
    })();
    const patient = await withOrm(db, { MIGRATION_DDL_LOCK_TIMEOUT_MS: '100', MIGRATION_DDL_RETRIES: '20' });
    const release = setTimeout(() => void holder.query('commit'), 1_000);
    try {
      await migratorOf(patient).up();
    } finally {
      clearTimeout(release);
      writing = false;
      await writer;
    }
    expect(written).toBeGreaterThan(0);
    expect(await executedNames(db)).toEqual(ALL);
    expect(await schemaOf(db)).toEqual(fresh);
    const [{ logs }] = await db.query(`select count(*)::int as logs from transaction_log where description is null`);
    expect(logs).toBe(written);
  });

  it('a session terminated while the adoption waits for its lock leaves nothing behind; the next run adopts', async () => {
    const db = await deployedDatabase('terminated', [ALL_IN_ONE_SCRIPT]);
    const shape = await db.fingerprint();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    cleanup.push(() => holder.end().catch(() => {}));
    await holder.query('begin');
    await holder.query('select count(*) from token_blacklist');

    const config = loadConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: db.url, CACHE_PREFIX: db.name, MIGRATION_DDL_LOCK_TIMEOUT_MS: '120000' });
    const orm = await createTestOrm(db, config);
    // with MikroORM 7.2.1, orm.close() waits forever once a session of its pool was terminated
    // inside a transaction (the pooled connection is never given back); the database's drop ends it
    cleanup.push(() => Promise.race([orm.close(), new Promise(resolve => setTimeout(resolve, 1_000))]));
    const adoption = refusal(migratorOf(orm).up());
    // the adoption's session, waiting for its lock on the token table
    let waiting: Array<Record<string, any>> = [];
    for (let tries = 0; tries < 300 && waiting.length === 0; tries++) {
      await new Promise(resolve => setTimeout(resolve, 100));
      waiting = await db.query(`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike 'alter table%'`);
    }
    expect(waiting).toHaveLength(1);
    await db.query('select pg_terminate_backend(?)', [waiting[0].pid]);
    expect(await adoption).toBeInstanceOf(Error);
    await holder.query('commit');
    expect(await db.fingerprint()).toEqual(shape);
    expect(await executedNames(db)).toEqual([]);

    const next = await withOrm(db);
    await migratorOf(next).up();
    expect(await executedNames(db)).toEqual(ALL);
    expect(await schemaOf(db)).toEqual(fresh);
  });
});
