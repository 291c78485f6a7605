import type { PoolClient } from 'pg';
import type { ServiceTable } from '../db/service-tables.ts';

/**
 * The record of what the fixtures made: one row per scenario and seed with the most households
 * a run of it built. Fixture rows are a pure function of (scenario, seed, households), so this
 * is all the cleanup needs to rebuild their keys, and it never has to guess from a row's looks
 * (an adopted legacy user at example.com is not a fixture). A service table: seeding must work
 * on a database whatever its migrations, and the record must survive a `down`.
 */
export const FIXTURE_RUNS_TABLE: ServiceTable = {
  name: 'enerlink_fixture_run',
  create: [
    `create table if not exists enerlink_fixture_run (
      scenario varchar(40) not null,
      seed bigint not null,
      households integer not null,
      first_seeded_at timestamptz not null default now(),
      last_seeded_at timestamptz not null default now(),
      primary key (scenario, seed)
    )`,
  ],
};

/** One recorded scenario and seed: households 0 .. households - 1 were built. */
export interface FixtureRun {
  scenario: string;
  seed: number;
  households: number;
}

/** Creates the table in the caller's transaction; the seed lock it holds serializes the CREATE. */
async function ensureTable(client: PoolClient): Promise<void> {
  for (const sql of FIXTURE_RUNS_TABLE.create) await client.query(sql);
}

/** Records, in the seed's transaction, that households 0 .. households - 1 of (scenario, seed) exist. */
export async function recordFixtureRun(client: PoolClient, run: FixtureRun): Promise<void> {
  await ensureTable(client);
  await client.query(
    `insert into enerlink_fixture_run (scenario, seed, households) values ($1, $2, $3)
     on conflict (scenario, seed) do update
       set households = greatest(enerlink_fixture_run.households, excluded.households), last_seeded_at = now()`,
    [run.scenario, run.seed, run.households],
  );
}

/** The recorded runs (of `scenario` only, if given), locked until the caller's transaction ends. */
export async function lockFixtureRuns(client: PoolClient, scenario?: string): Promise<FixtureRun[]> {
  await ensureTable(client);
  const { rows } = await client.query<{ scenario: string; seed: string; households: number }>(
    `select scenario, seed::text, households from enerlink_fixture_run where $1::text is null or scenario = $1 order by scenario, seed for update`,
    [scenario ?? null],
  );
  return rows.map(row => ({ scenario: row.scenario, seed: Number(row.seed), households: row.households }));
}

/** Forgets the runs the cleanup removed, in its transaction. */
export async function forgetFixtureRuns(client: PoolClient, runs: FixtureRun[]): Promise<void> {
  for (const run of runs) await client.query('delete from enerlink_fixture_run where scenario = $1 and seed = $2', [run.scenario, run.seed]);
}
