import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helper.ts';
import { MIKRO_ORM_CLI, runCommand } from '../processes.ts';

const INITIAL = 'Migration20241102000000_InitialSchema';
const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
const OUTBOX = 'Migration20261121000001_CacheOutbox';
const FUTURE = 'Migration20991231000000_FromANewerRelease';
const DELETED = 'Migration20250101000000_DeletedAfterItRan';

// The operators' commands, as `npm run <script>` runs them. An edited or deleted migration
// is made here the way it looks from the database (a checksum that no longer matches, a row
// without a file); the in-process and startup tests edit and delete real files.
const status = (env: Record<string, string>, ...args: string[]) => runCommand(['src/cli/migration-status.ts', ...args], env);
const repair = (env: Record<string, string>, ...args: string[]) => runCommand(['src/cli/migration-repair.ts', ...args], env);
const mikroOrm = (env: Record<string, string>, ...args: string[]) => runCommand([MIKRO_ORM_CLI, ...args], env);

describe('npm run migration:status and migration:repair', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase('cli_status');
    env = { DATABASE_URL: db.url, NODE_ENV: 'development' };
  });
  afterAll(() => db.drop());

  it('lists every migration as pending on a new database and exits 1', async () => {
    const result = await status(env);
    expect(result.code, result.stderr).toBe(1);
    for (const name of [INITIAL, RENAME, INDEXES, OUTBOX]) expect(result.stdout).toMatch(new RegExp(`^${name}\\s+pending$`, 'm'));
    expect(result.stdout).toContain('0 applied, 6 pending, 0 edited, 0 missing, 0 unknown');
  });

  it('once applied: when, how long and by whom, exit 0; a newer release\'s migration is unknown, not an error', async () => {
    expect((await mikroOrm(env, 'migration:up')).code).toBe(0);
    await db.query(`insert into mikro_orm_migrations (name, executed_at) values ('${FUTURE}', now())`);
    const result = await status(env);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${RENAME}\\s+applied\\s+\\d{4}-\\d\\d-\\d\\dT[^ ]+Z  [\\d.]+ ms  by cli on \\S+ \\(pid \\d+\\)$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^${FUTURE}\\s+unknown\\s+.*applied by a newer release$`, 'm'));
    const json = JSON.parse((await status(env, '--json')).stdout);
    expect(json.exitCode).toBe(0);
    expect(json.migrations.find((m: { name: string }) => m.name === OUTBOX)).toMatchObject({
      state: 'applied',
      durationMs: expect.any(Number),
      appliedBy: { origin: 'cli', how: 'run', pid: expect.any(Number) },
      checksum: { recorded: expect.stringMatching(/^[0-9a-f]{64}$/), source: 'run' },
    });
  });

  it('an edited migration: status exits 2, migration:up is refused in one line, repair accepts it with who and why', async () => {
    await db.query(`update enerlink_migration_checksum set checksum = repeat('0', 64) where name = '${RENAME}'`);
    const edited = await status(env);
    expect(edited.code).toBe(2);
    expect(edited.stdout).toMatch(new RegExp(`^${RENAME}\\s+edited\\s+.*was edited after it was applied`, 'm'));

    const up = await mikroOrm(env, 'migration:up');
    expect(up.code).toBe(1);
    expect(up.stderr.trim().split('\n')).toHaveLength(1);
    expect(up.stderr).toMatch(new RegExp(`^enerlink: Refusing to migrate: applied migration ${RENAME} was edited after it was applied`));
    expect((await status(env)).stdout).toMatch(/^Last failed run: up from cli on .*: Refusing to migrate: applied migration/m);

    const repaired = await repair(env, RENAME, '--reason', 'reworded a comment, reviewed in PR 7', '--by', 'carol');
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(new RegExp(`^Repaired ${RENAME}: accepted the edit \\(checksum 0{64} -> [0-9a-f]{64}\\), by carol: reworded a comment, reviewed in PR 7$`, 'm'));
    const [entry] = await db.query(`select method, origin, actor, reason from enerlink_migration_run order by id desc limit 1`);
    expect(entry).toEqual({ method: 'repair', origin: 'cli', actor: 'carol', reason: 'reworded a comment, reviewed in PR 7' });
    expect((await status(env)).code).toBe(0);
    expect((await mikroOrm(env, 'migration:up')).code).toBe(0);
  });

  it('a deleted migration: status exits 2, up is refused, repair forgets it', async () => {
    await db.query(`insert into mikro_orm_migrations (name, executed_at) values ('${DELETED}', now())`);
    const missing = await status(env);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toMatch(new RegExp(`^${DELETED}\\s+missing\\s+.*is applied but its file is gone from this release$`, 'm'));
    const up = await mikroOrm(env, 'migration:up');
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(new RegExp(`^enerlink: Refusing to migrate: applied migration ${DELETED} is applied but its file is gone`));
    expect((await repair(env, DELETED, '--reason', 'feature abandoned')).code).toBe(0);
    expect(await db.query(`select name from mikro_orm_migrations where name = '${DELETED}'`)).toEqual([]);
    expect((await status(env)).code).toBe(0);
  });

  it('refuses a caller\'s mistakes in one line with exit 1, and repairs nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[RENAME], /^enerlink: --reason is required/],
      [[RENAME, '--reason'], /^enerlink: Option '--reason <value>' argument missing/],
      [[RENAME, '--reason', ''], /^enerlink: --reason needs a value/],
      [[RENAME, '--reason', 'a', '--reason', 'b'], /^enerlink: --reason is given more than once/],
      [['--reason', 'a'], /^enerlink: name exactly one migration, got 0/],
      [[RENAME, INITIAL, '--reason', 'a'], /^enerlink: name exactly one migration, got 2/],
      [[RENAME, '--force', '--reason', 'a'], /^enerlink: Unknown option '--force'/],
      [[RENAME, '--reason', 'nothing changed'], /^enerlink: Migration20241102000001_RenameProsumerToUser matches what was applied: nothing to repair$/],
      [['Migration20990101000000_Nope', '--reason', 'a'], /^enerlink: Unknown migration: Migration20990101000000_Nope$/],
      [[FUTURE, '--reason', 'a'], /^enerlink: Migration20991231000000_FromANewerRelease was applied by a newer release/],
    ];
    const runsBefore = await db.query('select count(*)::int as n from enerlink_migration_run');
    for (const [args, message] of cases) {
      const result = await repair(env, ...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr.trim(), args.join(' ')).toMatch(message);
    }
    expect(await db.query('select count(*)::int as n from enerlink_migration_run')).toEqual(runsBefore);
    const bad = await status(env, '--verbose');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^enerlink: Unknown option '--verbose'.*usage: npm run migration:status/);
  });
});

describe('npx mikro-orm migration:create', () => {
  let db: TestDatabase;
  const folder = `test/.tmp/created-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    db = await createTestDatabase('cli_create');
    mkdirSync(folder, { recursive: true });
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await db.drop();
  });

  it('prints the lint of the file it wrote, with the safe alternative', async () => {
    const env = { DATABASE_URL: db.url, NODE_ENV: 'development' };
    expect((await mikroOrm(env, 'migration:up', '--to', '20241102000001')).code).toBe(0);
    // the entities have the composite indexes and the outbox; this database does not yet
    const result = await mikroOrm(env, 'migration:create', '--path', folder);
    expect(result.code, result.stderr).toBe(0);
    const [file] = readdirSync(folder);
    expect(result.stdout).toContain(`Lint of ${file}:`);
    expect(result.stdout).toMatch(new RegExp(`^ {2}index-not-concurrent in ${folder}/${file}$`, 'm'));
    expect(result.stdout).toMatch(/^ {4}statement: create index "idx_wallet_user_active" on "wallet"/m);
    expect(result.stdout).toMatch(/^ {4}instead: CREATE INDEX CONCURRENTLY/m);
    expect(result.stdout).toMatch(/^Lint FAILED: \d+ finding\(s\) not allowed$/m);
    expect(result.stdout).toContain('successfully created');
  });
});
