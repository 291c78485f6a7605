import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helper.ts';
import { MIKRO_ORM_CLI, runCommand } from '../processes.ts';

/** Runs `npx mikro-orm <args>` as an operator would, against `env`. */
const mikroOrm = (args: string[], env: Record<string, string>) => runCommand([MIKRO_ORM_CLI, ...args], env);

describe('npx mikro-orm', () => {
  let db: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    // not created: the first command creates it, as on a developer's first start
    db = await createTestDatabase('cli', { create: false });
    env = { DATABASE_URL: db.url, NODE_ENV: 'development' };
  });
  afterAll(() => db.drop());

  it('migration:pending lists every migration on a new database (and creates the database)', async () => {
    const result = await mikroOrm(['migration:pending'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Migration20241102000000_InitialSchema[\s\S]*RenameProsumerToUser[\s\S]*AddCompositeIndexes[\s\S]*CacheOutbox[\s\S]*MarketIntegrity/);
  });

  it('migration:up applies them and migration:list shows them with their time', async () => {
    const up = await mikroOrm(['migration:up'], env);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('Successfully migrated up to the latest version');
    const list = await mikroOrm(['migration:list'], env);
    expect(list.stdout).toMatch(/Migration20241102000002_AddCompositeIndexes\s*│\s*\d{4}-\d\d-\d\dT/);
    expect(list.stdout).toMatch(/Migration20261121000001_CacheOutbox\s*│\s*\d{4}-\d\d-\d\dT/);
    expect(list.stdout).toMatch(/Migration20261201000001_MarketIntegrity\s*│\s*\d{4}-\d\d-\d\dT/);
    expect((await mikroOrm(['migration:pending'], env)).stdout).toContain('No pending migrations');
  });

  it('migration:check finds no difference between the entities and the database', async () => {
    const check = await mikroOrm(['migration:check'], env);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('No changes required, schema is up-to-date');
  });

  it('migration:down reverts one step, and migration:check then reports the difference', async () => {
    const down = await mikroOrm(['migration:down'], env);
    expect(down.code).toBe(0);
    expect(await db.query('select name from mikro_orm_migrations order by id')).toHaveLength(5);
    const check = await mikroOrm(['migration:check'], env);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('Changes detected');
  });

  it('an unknown migration name is one readable line and exit code 1, and nothing runs', async () => {
    const result = await mikroOrm(['migration:up', '--to', 'Migration99999999999999_Nope'], env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('enerlink: Unknown migration: Migration99999999999999_Nope');
    expect(result.stdout).not.toContain('Options:');
    expect(await db.query('select name from mikro_orm_migrations')).toHaveLength(5);
  });

  it('an unreachable database is one readable line and exit code 1', async () => {
    const result = await mikroOrm(['migration:up'], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/enerlink' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^enerlink: cannot reach the database .*DATABASE_URL/);
  });

  it('a bad environment variable is one line naming it', async () => {
    const result = await mikroOrm(['migration:list'], { ...env, REDIS_URL: 'http://nope' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('enerlink: Invalid environment variable REDIS_URL: expected a redis:// or rediss:// URL, got "http://nope"');
  });
  it('--to without a value, an empty one, or given twice is refused instead of meaning "everything"', async () => {
    for (const args of [['--to'], ['--to', ''], ['--to', '--from', 'x'], ['--to', 'Migration20261121000001_CacheOutbox', '-t', '0'], ['--only=']]) {
      const result = await mikroOrm(['migration:up', ...args], env);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr.trim()).toMatch(/^enerlink: --(to|only) (needs a value: a migration name or its 14-digit version|is given more than once)/);
    }
    expect(await db.query('select name from mikro_orm_migrations')).toHaveLength(5);
  });

  it('a migration:down that would revert the initial migration (every table dropped) needs --to 0', async () => {
    expect((await mikroOrm(['migration:down', '--to', 'Migration20241102000000_InitialSchema'], env)).code).toBe(0);
    const refused = await mikroOrm(['migration:down'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^enerlink: Reverting Migration20241102000000_InitialSchema drops every table of the schema and its rows; ask for it explicitly \(--to 0 on the command line/);
    expect(await db.query(`select to_regclass('prosumer') is not null as present`)).toEqual([{ present: true }]);
    expect((await mikroOrm(['migration:down', '--to', '0'], env)).code).toBe(0);
    expect(await db.query(`select to_regclass('prosumer') is not null as present`)).toEqual([{ present: false }]);
  });

});
