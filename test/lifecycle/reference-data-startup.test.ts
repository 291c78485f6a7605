import { afterAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helper.ts';
import { readiness, runCommand, startServiceProcess, waitUntilReady, type ServiceProcess } from '../processes.ts';

const DEFAULT_LIMITS_SEEDER = '20261202000001-default-limits';
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function database(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  cleanup.push(() => db.drop());
  return db;
}

/** Starts `count` instances at once, waits until each is ready, stops them. */
async function startTogether(count: number, env: Record<string, string>): Promise<ServiceProcess[]> {
  const instances = Array.from({ length: count }, () => startServiceProcess(env));
  cleanup.push(() => instances.forEach(instance => instance.child.kill('SIGKILL')));
  const ports = await Promise.all(instances.map(instance => instance.port()));
  await Promise.all(ports.map(port => waitUntilReady(port)));
  for (const instance of instances) instance.child.kill('SIGTERM');
  expect(await Promise.all(instances.map(instance => instance.exited))).toEqual(instances.map(() => 0));
  return instances;
}

const logLines = (instance: ServiceProcess) =>
  instance.stdout
    .split('\n')
    .filter(line => line.startsWith('{'))
    .map(line => JSON.parse(line) as Record<string, any>);

describe('startup applies the reference data after the migrations (REFERENCE_SEED_RUN)', () => {
  it('two instances starting together on an empty database apply the default limits exactly once', async () => {
    const db = await database('reference_race');
    const instances = await startTogether(2, { DATABASE_URL: db.url });
    expect(await db.query('select name from enerlink_reference_seed')).toEqual([{ name: DEFAULT_LIMITS_SEEDER }]);
    expect(await db.query('select max_meters, max_open_offers, max_trade_kwh::text from limit_defaults')).toEqual([{ max_meters: 5, max_open_offers: 20, max_trade_kwh: '1000.000000' }]);
    const applied = instances.map(instance => logLines(instance).find(line => String(line.msg).startsWith('Reference data:'))?.applied);
    expect(applied.sort()).toEqual([[], [DEFAULT_LIMITS_SEEDER]]);
    for (const instance of instances) expect(instance.errors()).toEqual([]);
  });

  it('REFERENCE_SEED_RUN=false leaves it to the operator: not ready, naming it, until seed:reference ran', async () => {
    const db = await database('reference_off');
    const instance = startServiceProcess({ DATABASE_URL: db.url, REFERENCE_SEED_RUN: 'false' });
    cleanup.push(() => instance.child.kill('SIGKILL'));
    const port = await instance.port();
    await vi.waitFor(async () => expect((await readiness(port)).body.pendingMigrations).toEqual([]), { timeout: 30_000, interval: 100 });
    const before = await readiness(port);
    expect(before.status).toBe(503);
    expect(before.body).toMatchObject({ pendingReferenceData: [DEFAULT_LIMITS_SEEDER], reason: `reference data not applied: ${DEFAULT_LIMITS_SEEDER} (npm run seed:reference)` });
    expect(await db.query('select count(*)::int as n from limit_defaults')).toEqual([{ n: 0 }]);
    const cli = await runCommand(['src/cli/seed-reference.ts'], { DATABASE_URL: db.url, NODE_ENV: 'development' });
    expect(cli.code).toBe(0);
    await waitUntilReady(port);
    instance.child.kill('SIGTERM');
    expect(await instance.exited).toBe(0);
  });

  it('a reference seeder changed since it was applied is logged at startup, not run again; seed:reference exits 1 naming it', async () => {
    const db = await database('reference_changed');
    await startTogether(1, { DATABASE_URL: db.url });
    // as if the file had been edited after it was applied, and an operator had tuned the row since
    await db.query(`update enerlink_reference_seed set checksum = repeat('0', 64) where name = ?`, [DEFAULT_LIMITS_SEEDER]);
    await db.query('update limit_defaults set max_meters = 9');
    const [instance] = await startTogether(1, { DATABASE_URL: db.url });
    expect(instance.errors()).toEqual([expect.objectContaining({ changed: [DEFAULT_LIMITS_SEEDER], msg: expect.stringContaining('changed since they were applied, not run again') })]);
    expect(await db.query('select max_meters from limit_defaults')).toEqual([{ max_meters: 9 }]);
    const cli = await runCommand(['src/cli/seed-reference.ts'], { DATABASE_URL: db.url, NODE_ENV: 'development' });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe('Reference data: 0 applied, 0 already applied, 1 changed\n');
    expect(cli.stderr).toMatch(new RegExp(`^enerlink: reference seeder\\(s\\) changed since they were applied, not run again: ${DEFAULT_LIMITS_SEEDER} \\(applied .*\\); put the change in a new reference seeder\\n$`));
    expect(await db.query('select max_meters from limit_defaults')).toEqual([{ max_meters: 9 }]);
  });
});
