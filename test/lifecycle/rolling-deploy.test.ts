import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { readSchemaGeneration } from '../../src/cache/schema-generation.ts';
import { withCommandLifecycle } from '../../src/lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { MIGRATION_LOCK_KEY } from '../../src/schema/fleet-lock.ts';
import { User } from '../../src/users/user.entity.ts';
import { buildTestApp, createTestDatabase, createTestOrm, migrateTestDatabase, type TestDatabase } from '../helper.ts';
import { migrationSource, migrationsFolder, MIKRO_ORM_CLI, runCommand } from '../processes.ts';

/** Upper bound for what happens in the background; the goal (within a second) is a benchmark's. */
const WAIT = { timeout: 10_000, interval: 20 };
/** A Redis URL where nothing listens: the job that migrates has only DATABASE_URL. */
const NO_REDIS = 'redis://127.0.0.1:1';

function readUser(app: FastifyInstance, userId: string) {
  return app.cache.getOrLoad('user', userId, async () => {
    const user = await app.orm.em.fork().findOne(User, userId);
    return user && { name: user.name };
  });
}

describe('readiness during a rolling deploy', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  beforeAll(async () => {
    db = await createTestDatabase('ready_rolling');
    app = await buildTestApp(db);
    await migrateTestDatabase(app.orm);
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  it('stays ready while another process holds the migration lock, and says who', async () => {
    const other = new pg.Client({ connectionString: db.url, application_name: 'enerlink migration up (cli)' });
    await other.connect();
    try {
      await other.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY.join(', ')})`);
      const reply = await app.inject('/health/ready');
      expect(reply.statusCode, reply.body).toBe(200);
      expect(reply.json()).toMatchObject({ status: 'ready', migrating: true, migration: expect.stringContaining('enerlink migration up (cli)') });
    } finally {
      await other.end();
    }
    expect((await app.inject('/health/ready')).json()).toMatchObject({ status: 'ready', migrating: false });
  });

  it('stays ready when a newer release applied migrations it does not know, and names them', async () => {
    await db.query(`insert into mikro_orm_migrations (name) values ('Migration20991231000000_NextRelease')`);
    try {
      const reply = await app.inject('/health/ready');
      expect(reply.statusCode, reply.body).toBe(200);
      expect(reply.json()).toMatchObject({ status: 'ready', pendingMigrations: [], unknownMigrations: ['Migration20991231000000_NextRelease'] });
      const admin = await app.inject({ url: '/admin/migrations', headers: { authorization: `Bearer ${db.config.adminToken}` } });
      expect(admin.json().unknown).toEqual([{ name: 'Migration20991231000000_NextRelease' }]);
    } finally {
      await db.query(`delete from mikro_orm_migrations where name = 'Migration20991231000000_NextRelease'`);
    }
  });
});

describe('schema changes reach every instance through PostgreSQL', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  const env = () => ({ DATABASE_URL: db.url, REDIS_URL: NO_REDIS, CACHE_PREFIX: 'some_other_prefix', NODE_ENV: 'development' });

  beforeAll(async () => {
    db = await createTestDatabase('pg_notify');
    app = await buildTestApp(db);
    await migratorOf(app.orm).up();
    const em = app.orm.em.fork();
    em.create(User, { userId: 'u1', name: 'Before', email: 'u1@example.test', passwordHash: 'x' });
    await em.flush();
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  /** Caches u1, then changes it behind the cache's back: the entry is stale from now on. */
  async function staleEntry(name: string): Promise<string> {
    await readUser(app, 'u1');
    await db.query(`update "user" set name = ? where user_id = 'u1'`, [name]);
    expect(await readUser(app, 'u1')).not.toEqual({ name }); // served from Redis
    return app.cache.generation!;
  }

  it('a migration from the CLI with no Redis (and another CACHE_PREFIX) switches the instance and retires its entries', async () => {
    const old = await staleEntry('After the CLI down');
    const down = await runCommand([MIKRO_ORM_CLI, 'migration:down'], env());
    expect(down.code, down.stderr).toBe(0);
    await vi.waitFor(async () => expect(app.cache.generation).toBe(await readSchemaGeneration(db.query)), WAIT);
    expect(app.cache.generation).not.toBe(old);
    expect(await readUser(app, 'u1')).toEqual({ name: 'After the CLI down' });

    const again = await staleEntry('After the CLI up');
    const up = await runCommand([MIKRO_ORM_CLI, 'migration:up'], env());
    expect(up.code, up.stderr).toBe(0);
    await vi.waitFor(async () => expect(app.cache.generation).toBe(await readSchemaGeneration(db.query)), WAIT);
    expect(app.cache.generation).not.toBe(again);
    expect(await readUser(app, 'u1')).toEqual({ name: 'After the CLI up' });
    // the old generation's keys are purged by the instance, which can reach Redis
    await vi.waitFor(async () => expect(await db.query('select count(*)::int as n from cache_outbox where purged_at is null')).toEqual([{ n: 0 }]), WAIT);
    expect(await app.redis.exists(app.cache.key('user', 'u1', old))).toBe(0);
  });

  it('so does a seed from the CLI (npm run seed and npx mikro-orm seeder:run), with no Redis', async () => {
    for (const command of [['src/cli/seed.ts', '--users', '2'], [MIKRO_ORM_CLI, 'seeder:run']]) {
      const old = await staleEntry(`After ${command[0]}`);
      const seeded = await runCommand(command, { ...env(), SEED_USERS: '3' });
      expect(seeded.code, seeded.stderr).toBe(0);
      await vi.waitFor(async () => expect(app.cache.generation).toBe(await readSchemaGeneration(db.query)), WAIT);
      expect(app.cache.generation).not.toBe(old);
      expect(await readUser(app, 'u1')).toEqual({ name: `After ${command[0]}` });
    }
  });

  it('after its LISTEN session is terminated, the instance stops trusting its cache, listens again and reconciles', async () => {
    const old = await staleEntry('After the terminated session');
    const terminated = await db.query(
      `select pg_terminate_backend(pid) as done from pg_stat_activity where datname = current_database() and application_name = 'enerlink schema-change listener'`,
    );
    expect(terminated).toEqual([{ done: true }]);
    // a change made while nobody listens: its notification is lost, the database is not
    await withCommandLifecycle({ em: app.orm.em, migrator: migratorOf(app.orm), config: { ...db.config, redisUrl: NO_REDIS } }, lifecycle =>
      lifecycle.seed({ ...db.config.seeding, users: 1, trades: 0, isProduction: false }),
    );
    await vi.waitFor(async () => {
      expect(app.lifecycle.followingChanges).toBe(true);
      expect(app.cache.generation).toBe(await readSchemaGeneration(db.query));
    }, WAIT);
    expect(app.cache.generation).not.toBe(old);
    expect(await readUser(app, 'u1')).toEqual({ name: 'After the terminated session' });
  });
});

describe('verification of a run', () => {
  let db: TestDatabase;
  let folder: ReturnType<typeof migrationsFolder>;
  afterAll(async () => {
    folder?.remove();
    await db?.drop();
  });

  it('passes while other sessions write, and fails only for rows the run itself deleted', async () => {
    folder = migrationsFolder({
      'Migration20991231000001_AddWalletNote.ts': migrationSource(
        'Migration20991231000001_AddWalletNote',
        ['alter table wallet add column note text'],
        ['alter table wallet drop column note'],
      ),
      'Migration20991231000002_DropStaleTokens.ts': migrationSource('Migration20991231000002_DropStaleTokens', ['delete from token_blacklist']),
    });
    db = await createTestDatabase('verify_traffic');
    const orm = await createTestOrm(db, db.config, folder.path);
    try {
      const migrator = migratorOf(orm);
      await migrator.up({ to: '20261121000001' });
      await db.query(`insert into "user" (user_id, name, email, password_hash) values ('writer', 'W', 'w@example.test', 'x')`);
      // another session writes rows the whole time the run goes on
      let writing = true;
      let written = 0;
      const writer = (async () => {
        while (writing) {
          await db.query(`insert into token_blacklist (token_hash, user_id, expires_at) values (md5(random()::text), 'writer', now() + interval '1 hour')`);
          written++;
        }
      })();
      const report = await migrator.pipeline.run('up', { to: '20991231000001' });
      writing = false;
      await writer;
      expect(written).toBeGreaterThan(0);
      expect(report.status).toBe('applied');
      expect(report.verification!.ok, JSON.stringify(report.verification)).toBe(true);
      expect(report.verification!.scope).toBe('run');

      const deleting = await migrator.pipeline.run('up');
      expect(deleting.status).toBe('applied');
      expect(deleting.verification!.ok).toBe(false);
      const rowCheck = deleting.verification!.checks.find(check => check.name === 'row counts')!;
      expect(rowCheck.detail).toBe(`${written} row(s) of token_blacklist deleted by the run`);
    } finally {
      await orm.close();
    }
  });

  it('npm run db:verify reads every row on demand: exact counts, orphans behind every key, exit 1 when one fails', async () => {
    const ok = await runCommand(['src/cli/db-verify.ts'], { DATABASE_URL: db.url });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok {5}orphaned rows: none across 12 foreign keys$/m);
    expect(ok.stdout).toMatch(/token_blacklist 0/);
    await db.query('alter table wallet drop constraint wallet_user_id_fkey');
    await db.query(`insert into wallet (wallet_address, user_id) values ('0xorphan', 'user_gone')`);
    const failed = await runCommand(['src/cli/db-verify.ts'], { DATABASE_URL: db.url });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^FAILED foreign keys: wallet.wallet_user_id_fkey is missing$/m);
    expect(failed.stderr).toBe(`enerlink: verification of ${db.name} FAILED: foreign keys\n`);
  });
});
