import type { EntityManager } from '@mikro-orm/core';
import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import type { PoolClient } from 'pg';
import type { QueryRunner } from '../db/query-runner.ts';

const SEED_LOCK_KEY = 'enerlink.seed';

/**
 * Runs `work` in one transaction on a connection of the ORM's pool, under the seed lock, so a
 * second seeder or cleanup running at the same time waits instead of racing for the same rows.
 * `beforeCommit` runs in the same transaction just before it commits (the lifecycle records the
 * data change there). The caller must have queried through the ORM first: Kysely adopts the pg
 * pool on its first query, and only a pool it adopted is ended by orm.close().
 */
export async function inSeedTransaction<T>(
  em: EntityManager,
  work: (client: PoolClient) => Promise<T>,
  beforeCommit?: (execute: QueryRunner) => Promise<void>,
): Promise<T> {
  const pool = await (em.getConnection() as PostgreSqlConnection).getNativeClient();
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [SEED_LOCK_KEY]);
    const result = await work(client);
    if (beforeCommit) await beforeCommit(queryRunnerOf(client));
    await client.query('commit');
    return result;
  } catch (error) {
    // a connection that cannot even roll back goes back to the pool destroyed
    await client.query('rollback').catch(rollbackError => void (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

/** `client` as a QueryRunner taking `?` placeholders, as the ORM's `execute` does. */
export function queryRunnerOf(client: PoolClient): QueryRunner {
  return async (sql, params = []) => {
    let index = 0;
    return (await client.query(sql.replace(/\?/g, () => `$${++index}`), params)).rows;
  };
}
