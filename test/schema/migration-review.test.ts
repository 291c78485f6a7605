import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { SchemaLifecycle } from '../../src/lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { MIGRATION_LOCK_KEY } from '../../src/schema/fleet-lock.ts';
import type { MigrationPlanReport, PlanStep } from '../../src/schema/migration-review.ts';
import { createLegacyDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { fillLegacyData } from '../legacy-data.ts';
import { runCommand } from '../processes.ts';

const INITIAL = 'Migration20241102000000_InitialSchema';
const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
const OUTBOX = 'Migration20261121000001_CacheOutbox';
const MARKET = 'Migration20261201000001_MarketIntegrity';
const LIMITS = 'Migration20261202000001_LimitDefaults';
const USERS = 300;

/** The locks of a step, one line each: "mode table rows", as a reviewer reads them. */
const locksOf = (step: PlanStep) =>
  step.statements.flatMap(s => s.locks.map(l => `${l.mode} ${l.table} ${l.newTable ? 'new' : (l.estimatedRows ?? '?')}${l.rewrites ? ' rewrite' : ''}${l.scans ? ' scan' : ''}`));

describe('the plan of each shipped migration, on a deployed database with rows', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let lifecycle: SchemaLifecycle;
  let plan: MigrationPlanReport;
  beforeAll(async () => {
    db = await createLegacyDatabase('plan_shipped');
    await fillLegacyData(db, USERS);
    await db.query('analyze');
    orm = await createTestOrm(db);
    lifecycle = await SchemaLifecycle.start({ em: orm.em as never, migrator: migratorOf(orm), config: db.config });
    plan = await lifecycle.dryRun('up');
  });
  afterAll(async () => {
    await lifecycle.close();
    await orm.close();
    await db.drop();
  });

  it('lists every migration in order, with its transaction, and applies nothing', async () => {
    expect(plan.migrations.map(m => [m.name, m.action, m.transactional])).toEqual([
      [INITIAL, 'adopt', true],
      [RENAME, 'apply', true],
      [INDEXES, 'apply', false],
      [OUTBOX, 'apply', true],
      [MARKET, 'apply', true],
      [LIMITS, 'apply', true],
    ]);
    expect(await db.query('select name from mikro_orm_migrations')).toEqual([]);
    expect(await db.query(`select to_regclass('prosumer') is not null as legacy`)).toEqual([{ legacy: true }]);
  });

  it('the initial migration is adopted: nothing to run, nothing locked', () => {
    expect(plan.migrations[0]).toMatchObject({ sql: [], statements: [], findings: [] });
  });

  it('the rename: an ACCESS EXCLUSIVE lock per table with its estimated rows, no rewrite, its findings allowed', () => {
    const rename = plan.migrations[1];
    expect(rename.statements[0]).toMatchObject({ sql: 'ALTER TABLE prosumer RENAME TO "user"', kind: 'RenameStmt' });
    const locks = locksOf(rename);
    expect(locks[0]).toBe(`ACCESS EXCLUSIVE prosumer ${USERS}`);
    // the renamed table keeps its rows under its new name
    expect(locks[1]).toBe(`ACCESS EXCLUSIVE user ${USERS}`);
    expect(locks).toContain(`ACCESS EXCLUSIVE wallet ${USERS}`);
    expect(rename.statements.every(s => s.locks.every(l => !l.rewrites && !l.scans))).toBe(true);
    // COMMENT ON takes only SHARE UPDATE EXCLUSIVE: reads and writes go on
    expect(rename.statements.find(s => s.kind === 'CommentStmt')!.locks[0]).toMatchObject({ mode: 'SHARE UPDATE EXCLUSIVE', blocks: 'other schema changes' });
    expect([...new Set(rename.findings.map(f => `${f.rule} ${f.allowed === null ? 'refused' : 'allowed'}`))]).toEqual([
      'rename-table allowed',
      'missing-lock-timeout allowed',
      'rename-column allowed',
    ]);
  });

  it('the composite indexes: outside a transaction, SHARE UPDATE EXCLUSIVE (writes go on), a scan of each table', () => {
    const indexes = plan.migrations[2];
    expect(indexes.transactional).toBe(false);
    expect(locksOf(indexes)).toEqual([
      'SHARE UPDATE EXCLUSIVE idx_wallet_user_active ?',
      `SHARE UPDATE EXCLUSIVE wallet ${USERS} scan`,
      'SHARE UPDATE EXCLUSIVE idx_smartmeter_user_status ?',
      `SHARE UPDATE EXCLUSIVE smart_meter ${USERS} scan`,
    ]);
    expect(indexes.findings).toEqual([]);
  });

  it('the outbox: a new table, its index and comments; no finding', () => {
    const outbox = plan.migrations[3];
    expect(locksOf(outbox)).toEqual([
      'ACCESS EXCLUSIVE cache_outbox new',
      'SHARE cache_outbox new scan',
      'SHARE UPDATE EXCLUSIVE cache_outbox new',
      'SHARE UPDATE EXCLUSIVE cache_outbox new',
      'SHARE UPDATE EXCLUSIVE cache_outbox new',
    ]);
    expect(outbox.findings).toEqual([]);
  });

  it('takes no lock that traffic would feel: it answers while another process holds the migration lock and a session holds wallet in EXCLUSIVE mode', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [...MIGRATION_LOCK_KEY]);
      await holder.query('begin');
      // EXCLUSIVE lets only ACCESS SHARE (plain reads) through: anything stronger would wait here
      await holder.query('lock table wallet in exclusive mode');
      const again = await lifecycle.dryRun('up', { to: RENAME });
      expect(again.migrations.map(m => m.name)).toEqual([INITIAL, RENAME]);
    } finally {
      await holder.end();
    }
  });
});

describe('npm run migration:plan', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createLegacyDatabase('plan_cli');
    await fillLegacyData(db, 50);
    await db.query('analyze');
    env = { DATABASE_URL: db.url, NODE_ENV: 'development' };
  });
  afterAll(() => db.drop());

  it('prints each migration, statement, lock, rows and findings, and applies nothing', async () => {
    const result = await runCommand(['src/cli/migration-plan.ts', '--to', RENAME], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Plan of migration up: 2 migration\(s\)\. Nothing was applied and no lock was taken\.$/m);
    expect(result.stdout).toContain(`${INITIAL} (adopt, adopted: recorded as applied, not run)`);
    expect(result.stdout).toContain(`${RENAME} (apply, in a transaction)`);
    expect(result.stdout).toMatch(/^ {2}1\. ALTER TABLE prosumer RENAME TO "user"\n {5}ACCESS EXCLUSIVE on prosumer \(blocks reads and writes; ~50 rows\)$/m);
    expect(result.stdout).toMatch(/^ {4}rename-table \(allowed: the prosumer -> user rename/m);
    expect(result.stdout).not.toContain(INDEXES);
    expect(await db.query('select count(*)::int as n from mikro_orm_migrations')).toEqual([{ n: 0 }]);
  });

  it('--down --steps N: what reverting would run, with the destructive statements named', async () => {
    expect((await runCommand([ 'node_modules/@mikro-orm/cli/cli.js', 'migration:up'], env)).code).toBe(0);
    const result = await runCommand(['src/cli/migration-plan.ts', '--down', '--steps', '4', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout) as MigrationPlanReport;
    expect(plan.method).toBe('down');
    expect(plan.migrations.map(m => [m.name, m.action])).toEqual([
      [LIMITS, 'revert'],
      [MARKET, 'revert'],
      [OUTBOX, 'revert'],
      [INDEXES, 'revert'],
    ]);
    expect(plan.migrations[2].findings.map(f => f.rule)).toContain('drop-table');
    expect(plan.migrations[3].statements.map(s => s.locks[0].mode)).toEqual(['SHARE UPDATE EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE']);
    expect((await db.query('select count(*)::int as n from mikro_orm_migrations'))[0].n).toBe(6);
  });

  it('refuses a caller\'s mistakes in one line with exit 1', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--steps', '2'], /^enerlink: --steps counts migrations to revert: it needs --down/],
      [['--down', '--steps', '0'], /^enerlink: --steps must be an integer from 1 to 1000, got "0"/],
      [['--down', '--steps', 'two'], /^enerlink: --steps must be an integer from 1 to 1000, got "two"/],
      [['--down', '--steps', '1', '--to', RENAME], /^enerlink: give either --to or --steps, not both/],
      [['--to', RENAME, '--to', OUTBOX], /^enerlink: --to is given more than once/],
      [['--down', '--down'], /^enerlink: --down is given more than once/],
      [['--to'], /^enerlink: Option '--to <value>' argument missing/],
      [['--to', '--down'], /^enerlink: Option '--to' argument is ambiguous/],
      [['--force'], /^enerlink: Unknown option '--force'/],
      [['extra'], /^enerlink: Unexpected argument 'extra'/],
      [['--to', 'Migration20990101000000_Nope'], /^enerlink: Unknown migration: Migration20990101000000_Nope$/],
    ];
    for (const [args, message] of cases) {
      const result = await runCommand(['src/cli/migration-plan.ts', ...args], env);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr.trim(), args.join(' ')).toMatch(message);
    }
  });
});
