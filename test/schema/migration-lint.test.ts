import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { withCommandLifecycle } from '../../src/lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { LINT_RULES, lintMigration, type LintRuleName, type LintSubject } from '../../src/schema/migration-lint.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { runCommand } from '../processes.ts';

const subject = (up: string[], options: Partial<LintSubject> = {}): LintSubject => ({
  name: 'Migration20991231000000_UnderLint',
  file: null,
  source: null,
  transactional: true,
  down: ['select 1'],
  ...options,
  up,
});

const rules = async (s: LintSubject) => (await lintMigration(s)).filter(f => f.allowed === null).map(f => f.rule);
const TIMEOUT = "set local lock_timeout = '5s'";

/** Each rule: a migration that breaks it, and its safe form (which must not). */
const CASES: Array<{ rule: LintRuleName; unsafe: LintSubject; safe: LintSubject }> = [
  {
    rule: 'index-not-concurrent',
    unsafe: subject(['create index idx_wallet_name on wallet (wallet_name)'], { transactional: false }),
    safe: subject(['create index concurrently idx_wallet_name on wallet (wallet_name)'], { transactional: false }),
  },
  {
    rule: 'index-not-concurrent',
    unsafe: subject(['drop index idx_wallet_user_id'], { transactional: false }),
    safe: subject(['drop index concurrently idx_wallet_user_id'], { transactional: false }),
  },
  {
    // an index on a table the same migration creates has nobody to block
    rule: 'index-not-concurrent',
    unsafe: subject([TIMEOUT, 'create index idx_w on wallet (wallet_name)']),
    safe: subject(['create table ledger_note (id bigint primary key, body text)', 'create index idx_ledger_note on ledger_note (body)']),
  },
  {
    rule: 'concurrently-in-transaction',
    unsafe: subject(['create index concurrently idx_wallet_name on wallet (wallet_name)']),
    safe: subject(['create index concurrently idx_wallet_name on wallet (wallet_name)'], { transactional: false }),
  },
  {
    rule: 'add-column-not-null-without-default',
    unsafe: subject([TIMEOUT, 'alter table wallet add column note text not null']),
    safe: subject([TIMEOUT, "alter table wallet add column note text not null default ''"]),
  },
  {
    rule: 'add-column-volatile-default',
    unsafe: subject([TIMEOUT, 'alter table wallet add column token uuid default gen_random_uuid()']),
    safe: subject([TIMEOUT, 'alter table wallet add column token uuid', 'alter table wallet alter column token set default gen_random_uuid()']),
  },
  {
    rule: 'add-column-volatile-default',
    unsafe: subject([TIMEOUT, 'alter table wallet add column seq bigserial']),
    safe: subject([TIMEOUT, 'alter table wallet add column created timestamptz not null default now()']),
  },
  {
    rule: 'constraint-not-valid',
    unsafe: subject([TIMEOUT, 'alter table wallet add constraint wallet_owner_fk foreign key (user_id) references "user" (user_id)']),
    safe: subject([TIMEOUT, 'alter table wallet add constraint wallet_owner_fk foreign key (user_id) references "user" (user_id) not valid']),
  },
  {
    rule: 'constraint-not-valid',
    unsafe: subject([TIMEOUT, 'alter table wallet add constraint wallet_energy_positive check (energy_balance >= 0)']),
    safe: subject([TIMEOUT, 'alter table wallet add constraint wallet_energy_positive check (energy_balance >= 0) not valid']),
  },
  {
    rule: 'constraint-not-valid',
    unsafe: subject([TIMEOUT, 'alter table smart_meter add column wallet_address varchar(64) references wallet (wallet_address)']),
    safe: subject([TIMEOUT, 'alter table smart_meter add column wallet_address varchar(64)']),
  },
  {
    rule: 'set-not-null',
    unsafe: subject([TIMEOUT, 'alter table wallet alter column wallet_name set not null']),
    safe: subject([TIMEOUT, 'alter table wallet validate constraint wallet_name_not_null', 'alter table wallet alter column wallet_name set not null']),
  },
  {
    rule: 'column-type-change',
    unsafe: subject([TIMEOUT, 'alter table wallet alter column wallet_name type text']),
    safe: subject([TIMEOUT, 'alter table wallet add column wallet_label text']),
  },
  {
    rule: 'drop-table',
    unsafe: subject([TIMEOUT, 'drop table token_blacklist']),
    safe: subject([TIMEOUT, 'drop table token_blacklist'], { source: '// lint-ignore drop-table: unused since release 12, backed up in OPS-9' }),
  },
  {
    rule: 'drop-column',
    unsafe: subject([TIMEOUT, 'alter table wallet drop column wallet_name']),
    safe: subject([TIMEOUT, 'alter table wallet drop column wallet_name'], { source: '/* lint-ignore drop-column: no release reads it since 0.9 */' }),
  },
  {
    rule: 'rename-table',
    unsafe: subject([TIMEOUT, 'alter table wallet rename to purse']),
    safe: subject(['create view purse as select * from wallet']),
  },
  {
    rule: 'rename-column',
    unsafe: subject([TIMEOUT, 'alter table wallet rename column wallet_name to label']),
    safe: subject([TIMEOUT, 'alter table wallet add column label varchar(100)']),
  },
  {
    rule: 'unique-constraint-without-index',
    unsafe: subject([TIMEOUT, 'alter table wallet add constraint wallet_name_unique unique (wallet_name)']),
    safe: subject([TIMEOUT, 'alter table wallet add constraint wallet_name_unique unique using index idx_wallet_name_unique']),
  },
  {
    rule: 'missing-lock-timeout',
    unsafe: subject(['alter table wallet add column note text']),
    safe: subject([TIMEOUT, 'alter table wallet add column note text']),
  },
  {
    rule: 'missing-down',
    unsafe: subject(['create table ledger_note (id bigint)'], { down: null }),
    safe: subject(['create table ledger_note (id bigint)'], { down: ['drop table ledger_note'] }),
  },
  {
    rule: 'missing-down',
    unsafe: subject(['create table ledger_note (id bigint)'], { down: [] }),
    safe: subject(['create table ledger_note (id bigint)'], { down: [], source: '// lint-ignore missing-down: the imported rows cannot be told apart from later ones' }),
  },
  {
    rule: 'unparsable-statement',
    unsafe: subject(['alter tabel wallet add column note text']),
    safe: subject([TIMEOUT, 'alter table wallet add column note text']),
  },
  {
    rule: 'lint-ignore-invalid',
    unsafe: subject([TIMEOUT, 'drop table token_blacklist'], { source: '// lint-ignore drop-table' }),
    safe: subject([TIMEOUT, 'drop table token_blacklist'], { source: '// lint-ignore drop-table: retired in release 12' }),
  },
  {
    rule: 'lint-ignore-invalid',
    unsafe: subject(['select 1'], { source: '// lint-ignore drop-everything: because' }),
    safe: subject(['select 1']),
  },
];

describe('each lint rule', () => {
  it('has a case that breaks it and a safe form, and names its anchors', () => {
    expect(new Set(CASES.map(c => c.rule))).toEqual(new Set(Object.keys(LINT_RULES)));
    for (const rule of Object.values(LINT_RULES)) {
      expect(rule.why.length).toBeGreaterThan(10);
      expect(rule.safe.length).toBeGreaterThan(5);
      expect(Object.keys(rule.anchors)).toEqual(['squawk', 'strongMigrations', 'atlas']);
    }
  });

  for (const { rule, unsafe, safe } of CASES) {
    it(`${rule}: ${unsafe.up.at(-1)} is a finding; ${safe.up.at(-1)}${safe.source ? ` (${safe.source})` : ''} is not`, async () => {
      const findings = await lintMigration(unsafe);
      const finding = findings.find(f => f.rule === rule);
      expect(finding, JSON.stringify(findings)).toBeDefined();
      expect(finding).toMatchObject({ migration: unsafe.name, allowed: null, message: expect.stringContaining(LINT_RULES[rule].why), safe: LINT_RULES[rule].safe });
      if (rule !== 'missing-down' && rule !== 'lint-ignore-invalid') expect(finding!.statement).toBe(unsafe.up.at(-1));
      expect(await rules(safe)).not.toContain(rule);
    });
  }

  it('an annotation never silences what PostgreSQL would refuse', async () => {
    const findings = await lintMigration(
      subject(['create index concurrently idx_w on wallet (wallet_name)'], { source: '// lint-ignore concurrently-in-transaction: please' }),
    );
    expect(findings.find(f => f.rule === 'concurrently-in-transaction')?.allowed).toBeNull();
  });

  it('a revert is linted for what it runs: dropping what up created is named', async () => {
    const findings = await lintMigration(subject(['create table ledger_note (id bigint)'], { down: ['drop table ledger_note'] }), 'down');
    expect(findings.map(f => `${f.rule} ${f.direction}`)).toEqual(['drop-table down', 'missing-lock-timeout down']);
  });
});

describe('the shipped migrations', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  beforeAll(async () => {
    db = await createTestDatabase('lint_shipped');
    orm = await createTestOrm(db);
  });
  afterAll(async () => {
    await orm.close();
    await db.drop();
  });

  it('pass the lint; the rename and the market migration carry their justified annotations', async () => {
    const report = await withCommandLifecycle({ em: orm.em, migrator: migratorOf(orm), config: db.config }, lifecycle => lifecycle.lint());
    expect(report.failures).toBe(0);
    const allowed = report.migrations.flatMap(m => m.findings.map(f => `${m.name} ${f.rule}`));
    expect([...new Set(allowed)]).toEqual([
      'Migration20241102000001_RenameProsumerToUser rename-table',
      'Migration20241102000001_RenameProsumerToUser missing-lock-timeout',
      'Migration20241102000001_RenameProsumerToUser rename-column',
      'Migration20261201000001_MarketIntegrity missing-lock-timeout',
      'Migration20261201000001_MarketIntegrity constraint-not-valid',
      'Migration20261201000001_MarketIntegrity index-not-concurrent',
      'Migration20261201000001_MarketIntegrity unique-constraint-without-index',
    ]);
    for (const finding of report.migrations.flatMap(m => m.findings)) expect(finding.allowed).toMatch(/\w+ \w+/);
  });

  it('npm run migration:lint exits 0 and says so; a name it does not know is one line and exit 1', async () => {
    const env = { DATABASE_URL: db.url, NODE_ENV: 'development' };
    const result = await runCommand(['src/cli/migration-lint.ts'], env);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('Lint passed: 6 migration(s)');
    expect(result.stdout).toMatch(/^Migration20241102000001_RenameProsumerToUser: ok, 10 allowed$/m);
    const one = await runCommand(['src/cli/migration-lint.ts', '20241102000002', '--json'], env);
    expect(JSON.parse(one.stdout)).toEqual({ migrations: [{ name: 'Migration20241102000002_AddCompositeIndexes', file: expect.any(String), findings: [] }], failures: 0 });
    const unknown = await runCommand(['src/cli/migration-lint.ts', 'Migration20990101000000_Nope'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('enerlink: Unknown migration: Migration20990101000000_Nope');
  });
});
