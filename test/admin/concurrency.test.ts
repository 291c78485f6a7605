import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../src/schema/fleet-lock.ts';
import { expectProblem } from '../api.ts';
import { migrationSource, migrationsFolder } from '../processes.ts';
import { recordedMigrations, startAdminApi, type AdminApi } from './admin-api.ts';

const SLOW = 'Migration20991231000000_SlowDataMigration';
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

// The real migrations plus a data migration that takes 1.5 s: long enough for every other
// request of a test to arrive while it runs.
function slowMigrations(): string {
  const folder = migrationsFolder({
    [`${SLOW}.ts`]: migrationSource(SLOW, ['create table slow_migration_run (at timestamptz)', 'select pg_sleep(1.5)', 'insert into slow_migration_run values (now())'], [
      'drop table slow_migration_run',
    ]),
  });
  cleanup.push(folder.remove);
  return folder.path;
}

async function instances(label: string, count: number, migrationsPath: string): Promise<AdminApi[]> {
  const first = await startAdminApi(label, { migrate: false, migrationsPath });
  const token = first.token;
  const others = await Promise.all(
    Array.from({ length: count - 1 }, () => startAdminApi(label, { migrate: false, migrationsPath, db: first.db, env: { ADMIN_TOKEN: token } })),
  );
  const all = [first, ...others];
  cleanup.push(async () => {
    for (const api of all.reverse()) await api.close();
  });
  return [first, ...others];
}

describe('two admin runs at once', () => {
  it('across instances and within one: exactly one applies, the others get 409; every migration recorded once', async () => {
    const [a, b] = await instances('concurrent_up', 2, slowMigrations());
    const replies = await Promise.all([
      a.call('POST', '/admin/migrations/up'),
      b.call('POST', '/admin/migrations/up'),
      a.call('POST', '/admin/migrations/up'),
    ]);
    const statuses = replies.map(reply => reply.statusCode).sort();
    expect(statuses, replies.map(reply => reply.body).join('\n')).toEqual([200, 409, 409]);
    const applied = replies.find(reply => reply.statusCode === 200)!.json();
    expect(applied.migrations.map((m: { name: string }) => m.name)).toContain(SLOW);
    for (const refused of replies.filter(reply => reply.statusCode === 409)) {
      expectProblem(refused, 409, 'MIGRATION_RUNNING');
      expect(refused.json().detail).toMatch(/^Not started: another process is migrating this database: /);
    }
    const recorded = await recordedMigrations(a.db);
    expect(Object.values(recorded)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(await a.db.query('select count(*)::int as n from slow_migration_run')).toEqual([{ n: 1 }]);
  });

  it('the 409 says what is running: which migrations, started by whom, where; status shows it too', async () => {
    const [a, b] = await instances('running_info', 2, slowMigrations());
    await a.call('POST', '/admin/migrations/up', { to: 'Migration20261202000001_LimitDefaults' });
    const running = a.call('POST', '/admin/migrations/up');
    // wait until the run has announced its plan
    let status: Record<string, any> = {};
    for (let i = 0; i < 100 && !status.running?.activity?.migrations; i++) {
      status = (await b.call('GET', '/admin/migrations')).json();
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    expect(status).toMatchObject({
      migrating: true,
      pending: [{ name: SLOW }],
      running: {
        applicationName: 'enerlink migration up (admin-api)',
        activity: { operation: 'migration up', origin: 'admin-api', pid: process.pid, migrations: [SLOW], startedAt: expect.any(String) },
      },
    });
    for (const [method, body] of [['up', {}], ['down', { steps: 1 }]] as const) {
      const refused = await b.call('POST', `/admin/migrations/${method}`, body);
      expectProblem(refused, 409, 'MIGRATION_RUNNING');
      expect(refused.json().detail).toContain(`migration up of ${SLOW}, started by admin-api on`);
      expect(refused.json().running.activity).toMatchObject({ origin: 'admin-api', migrations: [SLOW] });
    }
    expect((await running).statusCode).toBe(200);
    expect((await b.call('GET', '/admin/migrations')).json()).toMatchObject({ migrating: false, pending: [] });
    expect((await b.call('GET', '/admin/audit?outcome=refused')).json().items.map((item: { result: { code: string } }) => item.result.code)).toEqual([
      'MIGRATION_RUNNING',
      'MIGRATION_RUNNING',
    ]);
  });

  it('a lock held by something that is not enerlink is still refused with 409, naming its session', async () => {
    const [a] = await instances('foreign_holder', 1, slowMigrations());
    const holder = new pg.Client({ connectionString: a.db.url, application_name: 'manual maintenance' });
    await holder.connect();
    cleanup.push(() => holder.end());
    await holder.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY.join(', ')})`);
    const refused = await a.call('POST', '/admin/migrations/up');
    expectProblem(refused, 409, 'MIGRATION_RUNNING');
    expect(refused.json().running).toMatchObject({ applicationName: 'manual maintenance', backendPid: expect.any(Number) });
    expect(refused.json().detail).toMatch(/pid \d+ manual maintenance/);
    expect(await recordedMigrations(a.db)).toEqual({});
    await holder.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.join(', ')})`);
    expect((await a.call('POST', '/admin/migrations/up', { to: '20241102000000' })).statusCode).toBe(200);
  });
});
