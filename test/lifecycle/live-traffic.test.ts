import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import { readSchemaGeneration } from '../../src/cache/schema-generation.ts';
import { withCommandLifecycle } from '../../src/lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import type { RunResult } from '../../src/schema/migration-runner.ts';
import { fund, signUp, type Account } from '../api.ts';
import { buildTestApp, migrateTestDatabase, createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { migrationSource, migrationsFolder } from '../processes.ts';
import { TrafficHarness } from './traffic-harness.ts';

const WAIT = { timeout: 10_000, interval: 20 };
const NEXT_COLUMN = 'Migration20991231000001_AddWalletNote';
const NEXT_INDEX = 'Migration20991231000002_IndexTransactionLogCreatedAt';

/** The next release's migrations: a column on a hot table and an index built CONCURRENTLY. */
function nextRelease() {
  return migrationsFolder({
    [`${NEXT_COLUMN}.ts`]: migrationSource(NEXT_COLUMN, ['alter table wallet add column note text'], ['alter table wallet drop column note']),
    [`${NEXT_INDEX}.ts`]: `import { Migration } from '@mikro-orm/migrations';

export class ${NEXT_INDEX} extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    this.addSql('drop index concurrently if exists idx_transactionlog_created_at');
    this.addSql('create index concurrently idx_transactionlog_created_at on transaction_log (transaction_timestamp)');
  }

  override async down(): Promise<void> {
    this.addSql('drop index concurrently if exists idx_transactionlog_created_at');
  }
}
`,
  });
}

describe('migrations under live traffic', () => {
  let db: TestDatabase;
  let serving: FastifyInstance;
  let next: MikroORM;
  let folder: ReturnType<typeof migrationsFolder>;
  let users: Account[];
  let traffic: TrafficHarness;

  beforeAll(async () => {
    db = await createTestDatabase('live_traffic');
    // a busy market logs in more than the per-account limit lets one client: raised for the test
    serving = await buildTestApp(db, { ...db.config, loginRateLimitPerAccount: 1_000_000, loginRateLimitPerAddress: 1_000_000 });
    await migrateTestDatabase(serving.orm);
    users = [];
    for (let i = 0; i < 6; i++) users.push(await signUp(serving, `Household ${i}`));
    for (const user of users) await fund(db, user.walletAddress, '1000.000000', '10000000.00');
    folder = nextRelease();
    // the next release's migration job: its own code, only DATABASE_URL (no Redis reachable)
    next = await createTestOrm(db, { ...db.config, redisUrl: 'redis://127.0.0.1:1' }, folder.path);
    await next.connect();
    traffic = new TrafficHarness(serving, db, users);
    await traffic.prepare();
  });
  afterAll(async () => {
    await traffic?.stop();
    await next?.close();
    await serving?.close();
    folder?.remove();
    await db?.drop();
  });

  /** Runs the next release's job as its CLI would (the lifecycle of a command, no cache of its own). */
  const nextJob = (method: 'up' | 'down', selection?: { steps: number }) =>
    withCommandLifecycle({ em: next.em, migrator: migratorOf(next), config: { ...db.config, redisUrl: 'redis://127.0.0.1:1' } }, lifecycle =>
      lifecycle.migrate(method, selection, { origin: 'cli' }),
    );

  /** After `run`, the serving instance switches generation and never serves the entry made stale before it. */
  async function expectServingCaughtUp(run: () => Promise<RunResult>, label: string): Promise<RunResult> {
    const before = serving.cache.generation;
    const stale = await traffic.makeStaleEntry(label);
    const report = await run();
    expect(report.failure, report.error).toBeUndefined();
    expect(report.verification?.ok, JSON.stringify(report.verification)).toBe(true);
    await vi.waitFor(async () => expect(serving.cache.generation).toBe(await readSchemaGeneration(db.query)), WAIT);
    expect(serving.cache.generation).not.toBe(before);
    expect(await traffic.profileName(stale.userId)).toBe(stale.name);
    return report;
  }

  it('trades taking offers, signed settlements, logins and cached reads go on, unharmed, while the next release migrates up, down and up', async () => {
    traffic.start();
    await traffic.waitForRequests(50);

    const up = await expectServingCaughtUp(() => nextJob('up'), 'after next up');
    expect(up.migrations.map(m => m.name)).toEqual([NEXT_COLUMN, NEXT_INDEX]);
    const ready = await serving.inject('/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().unknownMigrations).toEqual([NEXT_COLUMN, NEXT_INDEX]);
    await traffic.waitForRequests(50);

    const down = await expectServingCaughtUp(() => nextJob('down', { steps: 2 }), 'after next down');
    expect(down.migrations.map(m => m.name)).toEqual([NEXT_INDEX, NEXT_COLUMN]);
    await traffic.waitForRequests(50);

    await expectServingCaughtUp(() => nextJob('up'), 'after next up again');
    await traffic.waitForRequests(50);
    const summary = await traffic.stop();

    expect(summary.failures, JSON.stringify(summary.failures.slice(0, 5))).toEqual([]);
    expect(summary.notReady, JSON.stringify(summary.notReady.slice(0, 5))).toEqual([]);
    expect(summary.byKind.trade).toBeGreaterThan(10);
    expect(summary.byKind.settlement).toBeGreaterThan(10);
    expect(summary.byKind.login).toBeGreaterThan(10);
    expect(summary.byKind.read).toBeGreaterThan(10);
    // conservation: energy enters only through settlements, IDRS only moves
    expect(await traffic.totals()).toEqual(traffic.expectedTotals());
    const index = await db.query(`select indisvalid as valid from pg_index where indexrelid = 'idx_transactionlog_created_at'::regclass`);
    expect(index).toEqual([{ valid: true }]);
  });
});
