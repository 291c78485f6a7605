import { performance } from 'node:perf_hooks';
import type { EntityManager } from '@mikro-orm/core';
import type { PoolClient } from 'pg';
import type { QueryRunner } from '../db/query-runner.ts';
import { UserFactory } from '../../seeders/factories/UserFactory.ts';
import { forgetFixtureRuns, lockFixtureRuns, type FixtureRun } from './fixture-runs.ts';
import { BASE_SET, isScenarioName, type CleanupTarget } from './scenario-names.ts';
import { fixturesOf } from './scenarios.ts';
import type { SeedOptions } from './seed-options.ts';
import { refuseProduction } from './seed-service.ts';
import { inSeedTransaction } from './seed-transaction.ts';

/** Households whose keys are rebuilt and deleted per statement: bounded memory at any set size. */
const CLEANUP_BATCH = 5_000;

/**
 * The tables a fixture user's rows are in, each counted before the user goes: every one of them
 * references "user" (or a meter) with ON DELETE CASCADE, so deleting the user removes them, the
 * rows others made against a fixture household (a real user's trade with it) included.
 */
const DEPENDENTS: Array<{ label: string; sql: string }> = [
  { label: 'wallets', sql: 'select count(*)::int as n from wallet where user_id = any($1)' },
  { label: 'smart meters', sql: 'select count(*)::int as n from smart_meter where user_id = any($1)' },
  { label: 'settlements', sql: 'select count(*)::int as n from energy_settlement s join smart_meter m using (meter_id) where m.user_id = any($1)' },
  { label: 'conversions', sql: 'select count(*)::int as n from idrs_conversion where user_id = any($1)' },
  { label: 'offers', sql: 'select count(*)::int as n from market_offer where seller_user_id = any($1)' },
  { label: 'trades', sql: 'select count(*)::int as n from market_trade where buyer_user_id = any($1) or seller_user_id = any($1)' },
  { label: 'transaction logs', sql: 'select count(*)::int as n from transaction_log where user_id = any($1)' },
  { label: 'revoked tokens', sql: 'select count(*)::int as n from token_blacklist where user_id = any($1)' },
  { label: 'user limits', sql: 'select count(*)::int as n from user_limit where user_id = any($1)' },
];

/** What a cleanup removed. */
export interface CleanupSummary {
  /** The recorded (scenario, seed) runs whose rows were removed. */
  runs: FixtureRun[];
  /** Rows removed by table label, users first. */
  tables: Array<{ label: string; rows: number }>;
  rows: number;
  durationMs: number;
}

/**
 * Removes the rows the fixtures made (all of them, or those of one scenario or the base set) and
 * every row depending on them, in one transaction under the seed lock. Which rows those are is
 * never guessed from their looks: the record of fixture runs says which (scenario, seed,
 * households) were built, the factories rebuild those users' ids and emails, and only a user
 * matching both is deleted. A legacy or real user is never one of them. Refused in production
 * like seeding.
 */
export async function runCleanup(
  em: EntityManager,
  target: CleanupTarget | undefined,
  options: Pick<SeedOptions, 'isProduction' | 'allowProduction'>,
  context: { beforeCommit?: (execute: QueryRunner) => Promise<void> } = {},
): Promise<CleanupSummary> {
  refuseProduction(options, 'seed:cleanup');
  const started = performance.now();
  // through the ORM first (see inSeedTransaction), and a clear word on an unmigrated database
  const [{ table }] = await em.getConnection().execute<Array<{ table: string | null }>>(`select to_regclass('"user"')::text as table`);
  if (table === null) throw new Error('the database is not migrated (no table user): there are no fixtures to clean up');
  const removed = new Map<string, number>([['users', 0], ...DEPENDENTS.map(({ label }) => [label, 0] as [string, number])]);
  const runs = await inSeedTransaction(
    em,
    async client => {
      const runs = await lockFixtureRuns(client, target);
      for (const run of runs) {
        const scenario = run.scenario === BASE_SET ? undefined : isScenarioName(run.scenario) ? run.scenario : null;
        // a scenario a later release added and this one does not know: left for that release
        if (scenario === null) continue;
        const users = new UserFactory(em, fixturesOf(scenario, run.seed, ''));
        for (let start = 0; start < run.households; start += CLEANUP_BATCH) {
          const ids: string[] = [];
          const emails: string[] = [];
          for (let index = start; index < Math.min(run.households, start + CLEANUP_BATCH); index++) {
            const row = users.row(index);
            ids.push(row.userId as string);
            emails.push(row.email as string);
          }
          await removeUsers(client, ids, emails, removed);
        }
      }
      await forgetFixtureRuns(client, runs);
      return runs;
    },
    context.beforeCommit,
  );
  const tables = [...removed].map(([label, rows]) => ({ label, rows }));
  return { runs, tables, rows: tables.reduce((sum, t) => sum + t.rows, 0), durationMs: performance.now() - started };
}

/** Deletes the users matching both an id and its email, counting what goes with them first. */
async function removeUsers(client: PoolClient, ids: string[], emails: string[], removed: Map<string, number>): Promise<void> {
  // locked first: a row referencing a locked user cannot be added meanwhile, so the counts are exact
  const { rows } = await client.query<{ user_id: string }>(
    `select u.user_id from "user" u join unnest($1::text[], $2::text[]) as fixture(user_id, email)
       on u.user_id = fixture.user_id and u.email = fixture.email
     for update of u`,
    [ids, emails],
  );
  if (rows.length === 0) return;
  const doomed = rows.map(row => row.user_id);
  for (const { label, sql } of DEPENDENTS) {
    const [{ n }] = (await client.query<{ n: number }>(sql, [doomed])).rows;
    removed.set(label, removed.get(label)! + n);
  }
  const deleted = await client.query('delete from "user" where user_id = any($1)', [doomed]);
  removed.set('users', removed.get('users')! + (deleted.rowCount ?? 0));
}
