import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { DEMO_LOGIN } from '../../src/seeding/fixture-set.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { MIKRO_ORM_CLI, runCommand } from '../processes.ts';

const seederRun = (env: Record<string, string>) => runCommand([MIKRO_ORM_CLI, 'seeder:run'], env);
const npmRunSeed = (args: string[], env: Record<string, string>) => runCommand(['src/cli/seed.ts', ...args], env);

describe('seeding from the command line', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const userCount = async () => (await db.query('select count(*)::int as n from "user"'))[0].n;

  beforeAll(async () => {
    db = await createTestDatabase('seed_cli');
    const orm = await createTestOrm(db);
    await migratorOf(orm).up();
    await orm.close();
    // production also requires a JWT secret and a webhook secret; the seeding guard is what these tests are about
    env = { DATABASE_URL: db.url, NODE_ENV: 'development', JWT_SECRET: 'seed-cli-test-secret-of-32-characters', PAYMENT_WEBHOOK_SECRET: 'seed-cli-webhook-secret-of-32-characters' };
  });
  afterAll(() => db.drop());

  it('npx mikro-orm seeder:run refuses production in one line and writes nothing', async () => {
    const result = await seederRun({ ...env, NODE_ENV: 'production' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'enerlink: seeding is refused with NODE_ENV=production: it writes users whose password is "password"; set SEED_ALLOW_PRODUCTION=1 to seed anyway',
    );
    expect(result.stdout).not.toContain('Options:');
    expect(await userCount()).toBe(0);
  });

  it('npm run seed refuses production the same way', async () => {
    const result = await npmRunSeed([], { ...env, NODE_ENV: 'production' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^enerlink: seeding is refused with NODE_ENV=production: .*SEED_ALLOW_PRODUCTION=1/);
    expect(await userCount()).toBe(0);
  });

  it('npx mikro-orm seeder:run seeds the default set and prints the demo login', async () => {
    const result = await seederRun(env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Seeded 5 users, 5 wallets, 5 smart meters, 5 settlements, 5 conversions, 5 offers, 15 transaction logs (seed 1): 45 rows, 45 new');
    expect(result.stdout).toContain(`Demo login: ${DEMO_LOGIN.email} / ${DEMO_LOGIN.password}`);
    expect(result.stdout).toContain('Seeder DatabaseSeeder successfully executed');
    expect(await userCount()).toBe(5);
  });

  it('SEED_ALLOW_PRODUCTION=1 seeds production after a loud warning', async () => {
    const result = await seederRun({ ...env, NODE_ENV: 'production', SEED_ALLOW_PRODUCTION: '1' });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('enerlink: WARNING: seeding a PRODUCTION database (SEED_ALLOW_PRODUCTION=1)');
    expect(result.stdout).toContain('45 rows, 0 new');
  });

  it('npm run seed -- --users N adds to the set; SEED_USERS does the same from the environment', async () => {
    const byOption = await npmRunSeed(['--users', '12'], env);
    expect(byOption.code).toBe(0);
    expect(byOption.stdout).toContain('Seeded 12 users');
    expect(await userCount()).toBe(12);
    const byEnvironment = await seederRun({ ...env, SEED_USERS: '15' });
    expect(byEnvironment.stdout).toContain('Seeded 15 users');
    expect(await userCount()).toBe(15);
  });

  it.each([
    [['--users', 'lots'], 'enerlink: --users must be an integer from 1 to 10000000, got "lots"'],
    [['--trades', '-3'], 'enerlink: --trades must be an integer from 0 to 10000000, got "-3"'],
    [['--seed'], 'enerlink: --seed must be an integer from 0 to 4294967295, got nothing'],
    [['--seats', '3'], 'enerlink: unknown argument "--seats" (usage: npm run seed -- [--users N] [--trades N] [--seed N] [--scenario power-trader|boundary-amounts|lifecycle|settlement-heavy|large-market])'],
  ])('npm run seed %j is one line and exit code 1', async (args, message) => {
    const result = await npmRunSeed(args, env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(message);
  });

  it('a bad SEED_USERS is one line naming it', async () => {
    const result = await seederRun({ ...env, SEED_USERS: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('enerlink: Invalid environment variable SEED_USERS: must be >= 1, got "0"');
  });

  it('npm run db:reset drops everything, migrates and seeds the default set', async () => {
    const result = await runCommand(['src/cli/db-reset.ts'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Applied 6 migration(s)');
    expect(result.stdout).toContain('Reference data: 1 applied, 0 already applied, 0 changed');
    expect(result.stdout).toContain(`Demo login: ${DEMO_LOGIN.email} / ${DEMO_LOGIN.password}`);
    expect(await userCount()).toBe(5);
  });
});
