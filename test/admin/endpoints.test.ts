import { afterAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../api.ts';
import { fillLegacyData, dumpTables } from '../legacy-data.ts';
import { MIKRO_ORM_CLI, migrationSource, migrationsFolder, runCommand } from '../processes.ts';
import { startAdminApi, recordedMigrations, type AdminApi } from './admin-api.ts';

const ALL = [
  'Migration20241102000000_InitialSchema',
  'Migration20241102000001_RenameProsumerToUser',
  'Migration20241102000002_AddCompositeIndexes',
  'Migration20261121000001_CacheOutbox',
  'Migration20261201000001_MarketIntegrity',
  'Migration20261202000001_LimitDefaults',
];
const [INITIAL, RENAME, INDEXES, OUTBOX, MARKET, LIMITS] = ALL;
const LEGACY_TABLES = ['prosumer', 'wallet', 'smart_meter', 'energy_settlement', 'market_trade', 'transaction_log', 'idrs_conversion', 'token_blacklist'];
const CURRENT_TABLES = LEGACY_TABLES.map(table => (table === 'prosumer' ? 'user' : table));

const apis: AdminApi[] = [];
afterAll(async () => {
  for (const api of apis) await api.close();
});

async function api(label: string, options: Parameters<typeof startAdminApi>[1] = {}): Promise<AdminApi> {
  const started = await startAdminApi(label, options);
  apis.push(started);
  return started;
}

describe('GET /admin/migrations', () => {
  it('lists every migration as pending on a new database, and as executed, with when, once applied', async () => {
    const { call } = await api('status', { migrate: false });
    const before = await call('GET', '/admin/migrations');
    expect(before.statusCode, before.body).toBe(200);
    expect(before.json()).toEqual({
      executed: [],
      pending: ALL.map(name => ({ name })),
      unknown: [],
      edited: [],
      missing: [],
      migrations: ALL.map(name => ({ name, state: 'pending', appliedAt: null, durationMs: null, appliedBy: null, checksum: null, detail: null })),
      lastFailedRun: null,
      clean: false,
      migrating: false,
    });

    expect((await call('POST', '/admin/migrations/up')).statusCode).toBe(200);
    const after = (await call('GET', '/admin/migrations')).json();
    expect(after.pending).toEqual([]);
    expect(after.clean).toBe(true);
    expect(after.migrations.map((m: { state: string }) => m.state)).toEqual(ALL.map(() => 'applied'));
    expect(after.executed.map((m: { name: string }) => m.name)).toEqual(ALL);
    for (const { executedAt } of after.executed) expect(Date.now() - Date.parse(executedAt)).toBeLessThan(60_000);
  });
});

describe('POST /admin/migrations/up', () => {
  it('dry run on a new database: the SQL of every pending migration, and nothing applied', async () => {
    const { call, db } = await api('up_dry', { migrate: false });
    const reply = await call('POST', '/admin/migrations/up', { dryRun: true });
    expect(reply.statusCode, reply.body).toBe(200);
    const preview = reply.json();
    expect(preview).toMatchObject({ dryRun: true, method: 'up' });
    expect(preview.migrations.map((m: { name: string; action: string }) => [m.name, m.action])).toEqual(ALL.map(name => [name, 'apply']));
    const sql = Object.fromEntries(preview.migrations.map((m: { name: string; sql: string[] }) => [m.name, m.sql.join('\n')]));
    expect(sql[INITIAL]).toMatch(/CREATE TABLE prosumer/i);
    expect(sql[RENAME]).toMatch(/ALTER TABLE prosumer RENAME TO "user"/i);
    expect(sql[INDEXES]).toMatch(/CREATE INDEX CONCURRENTLY/);
    expect(preview.migrations.find((m: { name: string }) => m.name === INDEXES).transactional).toBe(false);
    expect(await db.fingerprint()).toEqual({});
    expect(await recordedMigrations(db)).toEqual({});
  });

  it('dry run on a deployed legacy database: the initial migration is adopted (no SQL), the rest shown; nothing changes', async () => {
    const { call, db } = await api('up_dry_legacy', { legacy: true, migrate: false });
    await fillLegacyData(db, 5);
    const shape = await db.fingerprint();
    const rows = await dumpTables(db, LEGACY_TABLES);
    const preview = (await call('POST', '/admin/migrations/up', { dryRun: true })).json();
    expect(preview.migrations.map((m: { action: string }) => m.action)).toEqual(['adopt', 'apply', 'apply', 'apply', 'apply', 'apply']);
    expect(preview.migrations[0].sql).toEqual([]);
    expect(await db.fingerprint()).toEqual(shape);
    expect(await dumpTables(db, LEGACY_TABLES)).toEqual(rows);
    expect(await recordedMigrations(db)).toEqual({});
  });

  it('applies up to and including "to" (a name or a 14-digit version), then the rest; a second run has nothing to do', async () => {
    const { call, db } = await api('up_to', { migrate: false });
    const first = await call('POST', '/admin/migrations/up', { to: '20241102000001' });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ dryRun: false, method: 'up', status: 'applied', migrations: [{ name: INITIAL }, { name: RENAME }] });
    expect(first.json().verification.ok).toBe(true);
    expect(Object.keys(await recordedMigrations(db))).toEqual([INITIAL, RENAME]);

    const rest = (await call('POST', '/admin/migrations/up', {})).json();
    expect(rest.migrations.map((m: { name: string }) => m.name)).toEqual([INDEXES, OUTBOX, MARKET, LIMITS]);
    expect((await call('POST', '/admin/migrations/up')).json()).toMatchObject({ status: 'nothing to do', migrations: [] });
    expect(await recordedMigrations(db)).toEqual(Object.fromEntries(ALL.map(name => [name, 1])));
    // the run log has both runs; the idle one is not recorded
    expect((await db.query('select status from enerlink_migration_run order by id')).map(row => row.status)).toEqual(['applied', 'applied']);
  });

  it('an unknown migration is a 404; a malformed body a 400 naming what is wrong; nothing is applied', async () => {
    const { call, db, token } = await api('up_bad', { migrate: false });
    expectProblem(await call('POST', '/admin/migrations/up', { to: 'Migration20991231000000_Nope' }), 404, 'MIGRATION_NOT_FOUND');
    expectProblem(await call('POST', '/admin/migrations/up', { to: '20991231000000', dryRun: true }), 404, 'MIGRATION_NOT_FOUND');
    const typo = await call('POST', '/admin/migrations/up', { tox: RENAME });
    expectProblem(typo, 400, 'VALIDATION_FAILED');
    expect(typo.json().detail).toBe('body has no property "tox" (it takes to, dryRun)');
    expect((await call('POST', '/admin/migrations/up', { dryRun: 'yes' })).json().detail).toBe('body.dryRun must be boolean');
    expect((await call('POST', '/admin/migrations/up', { to: 7 })).json().detail).toBe('body.to must be string');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expectProblem(await call('POST', '/admin/migrations/up', '{"to":', headers), 400, 'INVALID_JSON');
    expectProblem(await call('POST', '/admin/migrations/up', 'x'.repeat(17 * 1024), headers), 413, 'BODY_TOO_LARGE');
    expectProblem(await call('POST', '/admin/migrations/up', 'to=x', { ...headers, 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectProblem(await call('POST', '/admin/migrations/up', [1, 2]), 400, 'VALIDATION_FAILED');
    expectProblem(await call('POST', '/admin/migrations/up?force=1', {}), 400, 'VALIDATION_FAILED');
    expect(await recordedMigrations(db)).toEqual({});
  });
});

describe('GET /admin/migrations/runs', () => {
  it('lists every run of the database, newest first, whoever started it, a page at a time', async () => {
    const { call, db } = await api('runs', { migrate: false });
    expect((await call('GET', '/admin/migrations/runs')).json()).toEqual({ items: [], nextCursor: null });
    await call('POST', '/admin/migrations/up', { to: RENAME });
    await call('POST', '/admin/migrations/down');
    const cli = await runCommand([MIKRO_ORM_CLI, 'migration:up'], { NODE_ENV: 'test', DATABASE_URL: db.url, CACHE_PREFIX: db.name });
    expect(cli.code, cli.stderr).toBe(0);

    const first = await call('GET', '/admin/migrations/runs?limit=2');
    expect(first.statusCode, first.body).toBe(200);
    const page = first.json();
    expect(page.items.map((run: { origin: string; method: string }) => `${run.origin} ${run.method}`)).toEqual(['cli up', 'admin-api down']);
    expect(page.items[0]).toMatchObject({
      status: 'applied',
      migrations: [RENAME, INDEXES, OUTBOX, MARKET, LIMITS].map(name => ({ name, durationMs: expect.any(Number) })),
      verification: { ok: true },
      error: null,
      pid: expect.any(Number),
      host: expect.any(String),
    });
    const rest = (await call('GET', `/admin/migrations/runs?before=${page.nextCursor}`)).json();
    expect(rest.items.map((run: { origin: string; method: string }) => `${run.origin} ${run.method}`)).toEqual(['admin-api up']);
    expect(rest.nextCursor).toBeNull();
    expectProblem(await call('GET', '/admin/migrations/runs?limit=500'), 400, 'VALIDATION_FAILED');
  });
});

describe('a migration that fails', () => {
  it('is a 500 that says which migration and why, with the run report; its batch is rolled back', async () => {
    const broken = 'Migration20991231000000_Broken';
    const folder = migrationsFolder({ [`${broken}.ts`]: migrationSource(broken, ['create table half_done (id int)', 'select 1/0']) });
    try {
      const { call, db } = await api('up_fails', { migrationsPath: folder.path, migrate: false });
      const reply = await call('POST', '/admin/migrations/up');
      expectProblem(reply, 500, 'MIGRATION_FAILED');
      expect(reply.json().detail).toMatch(new RegExp(`^Migration ${broken} \\(up\\) failed: division by zero.*\\(its batch was rolled back\\)$`, 's'));
      // the outbox migration ran in the broken one's batch (one transaction): rolled back with it
      expect(reply.json().report).toMatchObject({ method: 'up', status: 'failed', migrations: [INITIAL, RENAME, INDEXES].map(name => ({ name })) });
      expect(await db.query(`select to_regclass('half_done') as a, to_regclass('cache_outbox') as b`)).toEqual([{ a: null, b: null }]);
      expect(Object.keys(await recordedMigrations(db))).toEqual([INITIAL, RENAME, INDEXES]);
      expect((await call('GET', '/admin/audit?outcome=failed')).json().items[0].result).toMatchObject({ code: 'MIGRATION_FAILED' });
    } finally {
      folder.remove();
    }
  });
});

describe('POST /admin/migrations/down', () => {
  it('reverts one migration by default; a dry run shows the SQL and reverts nothing', async () => {
    const { call, db } = await api('down_one');
    const preview = (await call('POST', '/admin/migrations/down', { dryRun: true })).json();
    expect(preview).toEqual({
      dryRun: true,
      method: 'down',
      migrations: [
        {
          name: LIMITS,
          action: 'revert',
          transactional: true,
          sql: expect.arrayContaining([expect.stringMatching(/drop table if exists limit_defaults/i)]),
          // the plan of each statement (locks, rows) and the lint's findings, as npm run migration:plan
          statements: expect.arrayContaining([expect.objectContaining({ kind: 'DropStmt', locks: [expect.objectContaining({ table: 'limit_defaults', mode: 'ACCESS EXCLUSIVE' })] })]),
          findings: expect.arrayContaining([expect.objectContaining({ rule: 'drop-table', direction: 'down' })]),
        },
      ],
    });
    expect(Object.keys(await recordedMigrations(db))).toEqual(ALL);

    const reply = await call('POST', '/admin/migrations/down');
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({ method: 'down', status: 'applied', migrations: [{ name: LIMITS }] });
    expect(Object.keys(await recordedMigrations(db))).toEqual([INITIAL, RENAME, INDEXES, OUTBOX, MARKET]);
    expect(await db.query(`select to_regclass('limit_defaults') as t`)).toEqual([{ t: null }]);
  });

  it('round trip on a deployed database with data: down to the contract and up again, every row kept', async () => {
    const { call, db } = await api('round_trip', { legacy: true, migrate: false });
    await fillLegacyData(db, 25);
    const contract = await db.fingerprint();
    const legacyRows = await dumpTables(db, LEGACY_TABLES);

    expect((await call('POST', '/admin/migrations/up')).json()).toMatchObject({ status: 'applied', verification: { ok: true } });
    const current = await db.fingerprint();
    const currentRows = await dumpTables(db, CURRENT_TABLES);

    const down = await call('POST', '/admin/migrations/down', { to: INITIAL });
    expect(down.statusCode, down.body).toBe(200);
    expect(down.json().migrations.map((m: { name: string }) => m.name)).toEqual([LIMITS, MARKET, OUTBOX, INDEXES, RENAME]);
    expect(down.json().verification.checks.find((check: { name: string }) => check.name === 'row counts').ok).toBe(true);
    expect(await db.fingerprint()).toEqual(contract);
    expect(await dumpTables(db, LEGACY_TABLES)).toEqual(legacyRows);

    expect((await call('POST', '/admin/migrations/up')).json()).toMatchObject({ status: 'applied', verification: { ok: true } });
    expect(await db.fingerprint()).toEqual(current);
    expect(await dumpTables(db, CURRENT_TABLES)).toEqual(currentRows);
    expect(await recordedMigrations(db)).toEqual(Object.fromEntries(ALL.map(name => [name, 1])));
  });

  it('steps reverts that many; "to" and "steps" together, a migration not applied, or bad values are refused', async () => {
    const { call, db } = await api('down_steps');
    expectProblem(await call('POST', '/admin/migrations/down', { to: INITIAL, steps: 2 }), 400, 'CONFLICTING_OPTIONS');
    expectProblem(await call('POST', '/admin/migrations/down', { steps: 0 }), 400, 'VALIDATION_FAILED');
    expectProblem(await call('POST', '/admin/migrations/down', { steps: 1.5 }), 400, 'VALIDATION_FAILED');
    expectProblem(await call('POST', '/admin/migrations/down', { to: 'NoSuchMigration' }), 404, 'MIGRATION_NOT_FOUND');
    expect(Object.keys(await recordedMigrations(db))).toEqual(ALL);

    const reply = await call('POST', '/admin/migrations/down', { steps: 3 });
    expect(reply.json().migrations.map((m: { name: string }) => m.name)).toEqual([LIMITS, MARKET, OUTBOX]);
    const notApplied = await call('POST', '/admin/migrations/down', { to: OUTBOX });
    expectProblem(notApplied, 409, 'MIGRATION_NOT_APPLIED');
    expect(notApplied.json().detail).toBe(`Migration ${OUTBOX} is not applied: cannot revert to it`);
    expect(Object.keys(await recordedMigrations(db))).toEqual([INITIAL, RENAME, INDEXES]);
  });
});

describe('GET /admin/schema/verify', () => {
  it('reports the integrity checks of the schema as it is now, failures included', async () => {
    const { call, db } = await api('verify');
    const healthy = await call('GET', '/admin/schema/verify');
    expect(healthy.statusCode, healthy.body).toBe(200);
    expect(healthy.json()).toMatchObject({ ok: true, checkedAt: expect.any(String) });
    expect(healthy.json().checks.map((check: { name: string }) => check.name)).toEqual(['foreign keys', 'indexes', 'orphaned rows']);
    expect(healthy.json().counts).toMatchObject({ user: 0, wallet: 0, smart_meter: 0, market_trade: 0 });
    expect(healthy.json().counts.enerlink_admin_audit).toBeUndefined();
    await call('POST', '/admin/seed', { users: 4 });
    expect((await call('GET', '/admin/schema/verify')).json().counts).toMatchObject({ user: 4, wallet: 4, smart_meter: 4 });

    await db.query('alter table wallet drop constraint wallet_user_id_fkey');
    const broken = (await call('GET', '/admin/schema/verify')).json();
    expect(broken.ok).toBe(false);
    expect(broken.checks.find((check: { name: string }) => check.name === 'foreign keys')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('wallet_user_id_fkey'),
    });
  });
});

describe('POST /admin/seed', () => {
  it('builds the fixture set through the seeder and tells the cache; a second run inserts nothing', async () => {
    const { call, db, app } = await api('seed');
    const completed: unknown[] = [];
    app.events.on('seed.completed', payload => void completed.push(payload));
    const reply = await call('POST', '/admin/seed', { users: 7 });
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({ users: 7, wallets: 7, meters: 7, settlements: 7, conversions: 7, offers: 7, inserted: 63, demo: { email: expect.any(String), password: 'password' } });
    expect(await db.query('select count(*)::int as n from "user"')).toEqual([{ n: 7 }]);
    expect(completed).toEqual([{ users: 7, wallets: 7, meters: 7, seed: 1 }]);
    expect((await call('POST', '/admin/seed', { users: 7 })).json()).toMatchObject({ users: 7, inserted: 0 });
    expect((await call('POST', '/admin/seed', { users: 3, trades: 4, seed: 1 })).json()).toMatchObject({ trades: 4, transactionLogs: 8 + 3 * 3 });
  });

  it('takes a scenario: its own households beside the base set, its login, nothing new the second time', async () => {
    const { call, db } = await api('seed_scenario');
    expect((await call('POST', '/admin/seed', { users: 2 })).statusCode).toBe(200);
    const reply = await call('POST', '/admin/seed', { scenario: 'power-trader', seed: 4 });
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({ scenario: 'power-trader', seed: 4, login: { email: 'power-trader@enerlink.example', password: 'password' } });
    expect(reply.json().tables).toContainEqual({ label: 'offers', rows: 120 });
    expect(reply.json().inserted).toBe(reply.json().rows);
    expect(await db.query(`select count(*)::int as n from market_offer where seller_user_id = 'user_power_trader'`)).toEqual([{ n: 120 }]);
    expect(await db.query('select count(*)::int as n from "user"')).toEqual([{ n: 2 + 25 }]);
    expect((await call('POST', '/admin/seed', { scenario: 'power-trader', seed: 4 })).json()).toMatchObject({ inserted: 0 });
    expectProblem(await call('POST', '/admin/seed', { scenario: 'power-trader', users: 3 }), 400, 'CONFLICTING_OPTIONS');
    expectProblem(await call('POST', '/admin/seed', { scenario: 'nope' }), 400, 'VALIDATION_FAILED');
  });

  it('is refused with 403 in production, with 409 while migrations are pending, and for impossible sets', async () => {
    const production = await api('seed_prod', {
      env: { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), PAYMENT_WEBHOOK_SECRET: 'w'.repeat(32), LOG_LEVEL: 'silent', SEED_ALLOW_PRODUCTION: '1' },
    });
    const refused = await production.call('POST', '/admin/seed', { users: 3 });
    expectProblem(refused, 403, 'ADMIN_FORBIDDEN');
    expect(refused.json().detail).toMatch(/refused in production.*npm run seed with SEED_ALLOW_PRODUCTION=1/);
    expect(await production.db.query('select count(*)::int as n from "user"')).toEqual([{ n: 0 }]);

    const pending = await api('seed_pending', { migrate: false });
    await pending.call('POST', '/admin/migrations/up', { to: INITIAL });
    const notCurrent = await pending.call('POST', '/admin/seed', {});
    expectProblem(notCurrent, 409, 'SCHEMA_NOT_CURRENT');
    expect(notCurrent.json().detail).toContain(RENAME);

    expectProblem(await pending.call('POST', '/admin/seed', { users: 1, trades: 1 }), 400, 'CONFLICTING_OPTIONS');
    expectProblem(await pending.call('POST', '/admin/seed', { users: 100_001 }), 400, 'VALIDATION_FAILED');
    expectProblem(await pending.call('POST', '/admin/seed', { users: '5' }), 400, 'VALIDATION_FAILED');
  });
});

describe('POST /admin/cache/purge', () => {
  it('deletes the keys of the namespace (CACHE_PREFIX by default) and nothing else', async () => {
    const { call, app, config } = await api('purge');
    const prefix = config.cachePrefix;
    const other = `${prefix}_other`;
    await app.redis.mset(`${prefix}:g1:user:a`, '1', `${prefix}:g2:wallet:b`, '2', `${other}:g1:user:a`, '3');
    const reply = await call('POST', '/admin/cache/purge');
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({ namespace: prefix, matched: 2, deleted: 2 });
    expect(await app.redis.exists(`${prefix}:g1:user:a`, `${prefix}:g2:wallet:b`)).toBe(0);
    expect(await app.redis.get(`${other}:g1:user:a`)).toBe('3');

    expect((await call('POST', '/admin/cache/purge', { namespace: other })).json()).toMatchObject({ namespace: other, deleted: 1 });
    expect(await app.redis.exists(`${other}:g1:user:a`)).toBe(0);
  });

  it('without Redis: 503 saying so, not a generic failure', async () => {
    const { call } = await api('purge_down', { env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    const reply = await call('POST', '/admin/cache/purge');
    expectProblem(reply, 503, 'CACHE_UNAVAILABLE');
    expect(reply.json().detail).toMatch(/^Redis is not reachable \(\w+\); nothing was purged$/);
  });

  it('refuses a namespace that could reach other keys', async () => {
    const { call } = await api('purge_bad');
    for (const namespace of ['*', 'a:b', 'users?', '']) {
      const reply = await call('POST', '/admin/cache/purge', { namespace });
      expect(reply.statusCode, namespace).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('GET /admin/audit', () => {
  it('pages through every admin request, newest first, with who, what, when and the result', async () => {
    const { call, token } = await api('audit');
    await call('GET', '/admin/migrations');
    await call('POST', '/admin/migrations/up', { dryRun: true });
    await call('POST', '/admin/migrations/down', { to: 'Nope' });
    const first = await call('GET', '/admin/audit?limit=2');
    expect(first.statusCode, first.body).toBe(200);
    const page = first.json();
    expect(page.items.map((item: { action: string }) => item.action)).toEqual(['migrations.down', 'migrations.up']);
    expect(page.items[0]).toMatchObject({
      method: 'POST',
      path: '/admin/migrations/down',
      params: { body: { to: 'Nope', dryRun: false } },
      statusCode: 404,
      outcome: 'refused',
      result: { code: 'MIGRATION_NOT_FOUND', detail: 'There is no migration Nope' },
      tokenFingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      clientAddress: '127.0.0.1',
    });
    expect(page.items[1]).toMatchObject({ statusCode: 200, outcome: 'succeeded', result: { dryRun: true, migrations: [] } });
    expect(JSON.stringify(page)).not.toContain(token);

    const second = (await call('GET', `/admin/audit?limit=2&before=${page.nextCursor}`)).json();
    expect(second.items.map((item: { action: string }) => item.action)).toEqual(['migrations.status']);
    expect(second.nextCursor).toBeNull();

    const onlyDown = (await call('GET', '/admin/audit?action=migrations.down&outcome=refused')).json();
    expect(onlyDown.items.map((item: { statusCode: number }) => item.statusCode)).toEqual([404]);
    // the listings were audited too
    expect((await call('GET', '/admin/audit?action=audit.list')).json().items.length).toBe(3);

    expectProblem(await call('GET', '/admin/audit?limit=0'), 400, 'VALIDATION_FAILED');
    expectProblem(await call('GET', '/admin/audit?before=abc'), 400, 'VALIDATION_FAILED');
    expectProblem(await call('GET', '/admin/audit?outcome=maybe'), 400, 'VALIDATION_FAILED');
  });

  it('survives reverting every migration: the audit trail of a rollback is not rolled back', async () => {
    const { call, db } = await api('audit_down');
    // counting steps never reaches the initial migration by accident: it drops every table
    const refused = await call('POST', '/admin/migrations/down', { steps: 10 });
    expectProblem(refused, 409, 'REVERT_NOT_CONFIRMED');
    expect(refused.json().detail).toMatch(/^Reverting Migration20241102000000_InitialSchema drops every table .*revertInitial: true over HTTP/);
    expect(await recordedMigrations(db)).toEqual(Object.fromEntries(ALL.map(name => [name, 1])));
    expect((await call('POST', '/admin/migrations/down', { steps: 10, revertInitial: true })).json().migrations).toHaveLength(6);
    expect(await db.fingerprint()).toEqual({});
    const entries = (await call('GET', '/admin/audit')).json().items;
    expect(entries.map((item: { action: string }) => item.action)).toEqual(['migrations.down', 'migrations.down']);
    expect(entries[0].result).toMatchObject({ status: 'applied', migrations: [LIMITS, MARKET, OUTBOX, INDEXES, RENAME, INITIAL] });
  });
});
