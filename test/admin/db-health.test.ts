import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { readDbHealth } from '../../src/admin/db-health.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../api.ts';
import { runCommand } from '../processes.ts';
import { auditRows, startAdminApi, type AdminApi } from './admin-api.ts';

let api: AdminApi;
const clients: pg.Client[] = [];

beforeAll(async () => {
  api = await startAdminApi('db_health');
});
afterAll(async () => {
  for (const client of clients) await client.end().catch(() => {});
  await api?.close();
});

/** A session of the test's own on the test's database, as a psql an operator forgot would be. */
async function session(applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: api.db.url, application_name: applicationName });
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return client;
}

async function health(query = '') {
  const reply = await api.call('GET', `/admin/db/health${query}`);
  expect(reply.statusCode, reply.body).toBe(200);
  return reply.json();
}

describe('GET /admin/db/health', () => {
  it('sizes and row estimates of every table, index scans with the unused ones named, connections by state', async () => {
    const report = await health();
    expect(report.database).toBe(api.db.name);
    const tables = Object.fromEntries(report.tables.map((t: { table: string }) => [t.table, t]));
    expect(Object.keys(tables)).toEqual(expect.arrayContaining(['user', 'wallet', 'smart_meter', 'market_trade', 'cache_outbox']));
    expect(tables.user).toMatchObject({ rowEstimate: 0, totalBytes: expect.any(Number) });
    expect(tables.user.totalBytes).toBeGreaterThanOrEqual(tables.user.indexBytes);
    const indexes = Object.fromEntries(report.indexes.map((i: { index: string }) => [i.index, i]));
    // a primary key enforces a constraint: never "unused", however rarely it is scanned
    expect(indexes.user_pkey).toMatchObject({ table: 'user', unique: true, unused: false });
    expect(indexes.idx_wallet_user_id).toMatchObject({ table: 'wallet', scans: 0, unused: true });
    expect(report.unusedIndexes).toContain('idx_wallet_user_id');
    expect(report.unusedIndexes).not.toContain('user_pkey');
    expect(report.connections.maxConnections).toBeGreaterThan(0);
    expect(report.connections.byState.reduce((sum: number, s: { count: number }) => sum + s.count, 0)).toBeGreaterThan(0);
    expect(report.blocking).toEqual({ olderThanMs: 1000, sessions: [] });
    const [entry] = await auditRows(api.db, 1);
    expect(entry).toMatchObject({ action: 'db.health', outcome: 'succeeded', result: { blocking: 0 } });
  });

  it('without pg_stat_statements preloaded: says so and how to enable it, also once the extension is created', async () => {
    const before = (await health()).slowStatements;
    expect(before).toMatchObject({ available: false, reason: expect.stringContaining('shared_preload_libraries') });
    expect(before.howToEnable).toMatch(/shared_preload_libraries.*restart PostgreSQL.*CREATE EXTENSION pg_stat_statements/);

    const [{ preloaded }] = await api.db.query(`select current_setting('shared_preload_libraries') like '%pg_stat_statements%' as preloaded`);
    if (preloaded) return; // a server with it preloaded: the other branch, tested below with a server of the test's own
    await api.db.query('create extension if not exists pg_stat_statements');
    const after = (await health()).slowStatements;
    expect(after).toMatchObject({ available: false, reason: expect.stringMatching(/created, but collects nothing/) });
  });

  it('what would block a migration: a session idle in transaction holding a row lock, and a long running transaction, oldest first, with their tables', async () => {
    const forgotten = await session('forgotten psql');
    const [{ pid: forgottenPid }] = (await forgotten.query('select pg_backend_pid() as pid')).rows;
    await forgotten.query('begin');
    await forgotten.query(`select * from wallet for update`);

    const batch = await session('nightly batch');
    const [{ pid: batchPid }] = (await batch.query('select pg_backend_pid() as pid')).rows;
    await batch.query('begin');
    await batch.query(`lock table market_trade in share mode`);
    const sleeping = batch.query('select pg_sleep(30)').catch(() => {});
    await sleep(400);

    const report = await health('?olderThanMs=200');
    const pids = report.blocking.sessions.map((s: { pid: number }) => s.pid);
    expect(pids).toEqual([forgottenPid, batchPid]);
    const [idle, active] = report.blocking.sessions;
    expect(idle).toMatchObject({ application: 'forgotten psql', state: 'idle in transaction', idleInTransaction: true, waitingFor: [] });
    expect(idle.locks).toContainEqual({ table: 'wallet', mode: 'RowShareLock', granted: true });
    expect(idle.query).toMatch(/for update/);
    expect(active).toMatchObject({ application: 'nightly batch', state: 'active', idleInTransaction: false, query: 'select pg_sleep(30)' });
    expect(active.locks).toContainEqual({ table: 'market_trade', mode: 'ShareLock', granted: true });
    expect(active.transactionAgeMs).toBeGreaterThanOrEqual(200);

    // a threshold no transaction reaches: the running one drops out, the idle one stays listed
    const patient = await health('?olderThanMs=86400000');
    expect(patient.blocking.sessions.map((s: { pid: number }) => s.pid)).toEqual([forgottenPid]);
    const [entry] = await auditRows(api.db, 1);
    expect(entry).toMatchObject({ action: 'db.health', params: { query: { olderThanMs: 86400000 } }, result: { blocking: 1 } });

    // one that waits for the idle one's lock names it; and the report still answers while an
    // ACCESS EXCLUSIVE request (what ALTER TABLE takes) is queued on the table
    const waiter = await session('waiting writer');
    await waiter.query('begin');
    const waiting = waiter.query(`lock table wallet in access exclusive mode`).catch(() => {});
    let waitingFor: number[] = [];
    for (let tries = 0; tries < 100 && waitingFor.length === 0; tries++) {
      const listed = (await health('?olderThanMs=0')).blocking.sessions.find((s: { application: string }) => s.application === 'waiting writer');
      waitingFor = listed?.waitingFor ?? [];
      if (listed) expect(listed.locks).toContainEqual({ table: 'wallet', mode: 'AccessExclusiveLock', granted: false });
      if (waitingFor.length === 0) await sleep(100);
    }
    expect(waitingFor).toContain(forgottenPid);

    // terminated: gone from the report, and the waiter gets its lock
    await api.db.query('select pg_terminate_backend(pid) from pg_stat_activity where pid = any($1::int[])', [[forgottenPid, batchPid]]);
    await Promise.all([sleeping, waiting]);
    await waiter.query('rollback');
    const after = await health('?olderThanMs=86400000');
    expect(after.blocking.sessions.map((s: { pid: number }) => s.pid)).not.toContain(forgottenPid);
    expect(after.blocking.sessions.map((s: { pid: number }) => s.pid)).not.toContain(batchPid);
  });

  it('refuses a bad threshold or an unknown parameter with a 400 problem, and any call without the token', async () => {
    expectProblem(await api.call('GET', '/admin/db/health?olderThanMs=-1'), 400, 'VALIDATION_FAILED');
    expectProblem(await api.call('GET', '/admin/db/health?olderThanMs=soon'), 400, 'VALIDATION_FAILED');
    expectProblem(await api.call('GET', '/admin/db/health?threshold=5'), 400, 'VALIDATION_FAILED');
    expectProblem(await api.call('GET', '/admin/db/health', undefined, {}), 401, 'UNAUTHORIZED');
    const [entry] = await auditRows(api.db, 1);
    expect(entry).toMatchObject({ action: 'db.health', outcome: 'refused', status_code: 401 });
  });
});

describe('GET /admin/cache', () => {
  it('the generation this instance serves, and the purges the outbox still owes', async () => {
    const first = await api.call('GET', '/admin/cache');
    expect(first.statusCode, first.body).toBe(200);
    const before = first.json();
    expect(before).toMatchObject({ prefix: api.config.cachePrefix, outbox: { present: true, pending: 0 } });
    // a purge owed and not announced (its instance died before NOTIFY): the backlog shows it
    await api.db.query(`insert into cache_outbox (generation, migrations, created_at) values ('g-test', 'x', now() - interval '1 minute')`);
    const after = (await api.call('GET', '/admin/cache')).json();
    expect(after.outbox).toMatchObject({ pending: 1, claimed: 0 });
    expect(Date.now() - Date.parse(after.outbox.oldestPendingAt)).toBeGreaterThanOrEqual(50_000);
    const [entry] = await auditRows(api.db, 1);
    expect(entry).toMatchObject({ action: 'cache.status', result: { pending: 1 } });
  });
});

describe('npm run db:health', () => {
  it('prints the same report as tables, a blocking session first', async () => {
    const forgotten = await session('forgotten cli psql');
    await forgotten.query('begin');
    await forgotten.query('select * from "user" for update');
    const { code, stdout, stderr } = await runCommand(['src/cli/db-health.ts', '--older-than-ms', '500'], { DATABASE_URL: api.db.url });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/What would block a migration now \(transactions older than 500 ms, sessions idle in transaction\): 1/);
    expect(stdout).toMatch(/idle in transaction .*forgotten cli psql .*user RowShareLock .*for update/);
    expect(stdout.indexOf('What would block')).toBeLessThan(stdout.indexOf('Tables'));
    expect(stdout).toMatch(/^wallet +\d+ /m);
    expect(stdout).toMatch(/Unused indexes: .*idx_wallet_user_id/);
    expect(stdout).toMatch(/to enable it: .*shared_preload_libraries/);
    await forgotten.query('rollback');
  });

  it('a bad option or an unreachable database: one enerlink: line and exit 1', async () => {
    const bad = await runCommand(['src/cli/db-health.ts', '--older-than-ms', 'soon'], { DATABASE_URL: api.db.url });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^enerlink: --older-than-ms must be a whole number.*usage: npm run db:health/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const unknown = await runCommand(['src/cli/db-health.ts', '--verbose'], { DATABASE_URL: api.db.url });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^enerlink: .*--verbose/);
    const down = await runCommand(['src/cli/db-health.ts'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toMatch(/^enerlink: cannot reach the database/);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/**
 * A PostgreSQL server of the test's own, started with pg_stat_statements preloaded: the shared
 * server is never restarted, and preloading needs a start. As root, initdb and the server run
 * as the postgres user (PostgreSQL refuses root).
 */
async function privatePostgres(settings: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const version = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)).at(-1);
  const bin = `/usr/lib/postgresql/${version}/bin`;
  const dir = mkdtempSync(join(tmpdir(), 'enerlink-pg-'));
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length) chownSync(dir, Number((await promisify(execFile)('id', ['-u', 'postgres'])).stdout.trim()), Number((await promisify(execFile)('id', ['-g', 'postgres'])).stdout.trim()));
  const run = (command: string, args: string[]) => promisify(execFile)(asPostgres[0] ?? command, [...asPostgres.slice(1), ...(asPostgres.length ? [command] : []), ...args]);
  const port = await new Promise<number>(resolve => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
  await run(`${bin}/initdb`, ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const options = ['-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', ...settings.flatMap(setting => ['-c', setting])].join(' ');
  await run(`${bin}/pg_ctl`, ['-D', `${dir}/data`, '-o', options, '-l', `${dir}/log`, '-w', '-t', '60', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await run(`${bin}/pg_ctl`, ['-D', `${dir}/data`, '-m', 'immediate', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('slowest statements with pg_stat_statements preloaded (a server of the test\'s own)', () => {
  it('lists the statements with the highest mean time, this database\'s only; before CREATE EXTENSION, says that is the step left', async () => {
    const server = await privatePostgres(['shared_preload_libraries=pg_stat_statements']);
    // a pool, as the service's: the report runs its queries side by side
    const client = new pg.Pool({ connectionString: server.url, max: 4 });
    try {
      const execute = async (sql: string, params: unknown[] = []) => {
        let index = 0;
        return (await client.query(sql.replace(/\?/g, () => `$${++index}`), params)).rows;
      };
      const before = (await readDbHealth(execute)).slowStatements;
      expect(before).toEqual({ available: false, reason: expect.stringMatching(/preloaded, but the extension is not created/), howToEnable: expect.stringMatching(/^run CREATE EXTENSION pg_stat_statements/) });

      await client.query('create extension pg_stat_statements');
      await client.query('create table reading (id int primary key, kwh numeric)');
      await client.query('select pg_sleep(0.2)');
      // 20 ms each: slower than the catalog queries around it (up to 10 ms on a busy machine), so among the slowest whatever the load
      for (let i = 0; i < 3; i++) await client.query('insert into reading select $1, 1.5 from pg_sleep(0.02)', [i]);
      const report = await readDbHealth(execute);
      expect(report.slowStatements.available).toBe(true);
      if (!report.slowStatements.available) return;
      const [slowest] = report.slowStatements.statements;
      expect(slowest).toMatchObject({ query: 'select pg_sleep($1)', calls: 1 });
      expect(slowest.meanMs).toBeGreaterThanOrEqual(190);
      expect(report.slowStatements.statements).toContainEqual(expect.objectContaining({ query: 'insert into reading select $1, $2 from pg_sleep($3)', calls: 3, rows: 3 }));
      expect(report.tables.map(t => t.table)).toEqual(['reading']);
    } finally {
      await client.end().catch(() => {});
      await server.stop();
    }
  });
});
