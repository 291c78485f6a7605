import type { QueryRunner } from '../schema/schema-fingerprint.ts';

/** How long a claimed purge is left to the instance carrying it out before another may retry it. */
const CLAIM_LEASE = '10 minutes';

async function outboxExists(execute: QueryRunner): Promise<boolean> {
  const [{ present }] = await execute(`select to_regclass('cache_outbox') is not null as present`);
  return present;
}

/**
 * Records that entries of generations other than `generation` are to be purged. Called with
 * the schema change's own transaction, so the record exists exactly if the change committed.
 * Returns false when there is no outbox table (before its migration, or once it is reverted).
 */
export async function recordPurge(execute: QueryRunner, generation: string, migrations: string[]): Promise<boolean> {
  if (!(await outboxExists(execute))) return false;
  await execute('insert into cache_outbox (generation, migrations) values (?, ?)', [generation, migrations.join(',')]);
  return true;
}

/**
 * Claims every pending purge that no other instance is carrying out, for a lease; returns
 * their ids. One purge of every old generation settles them all.
 */
export async function claimPendingPurges(execute: QueryRunner): Promise<string[]> {
  if (!(await outboxExists(execute))) return [];
  const rows = await execute(
    `update cache_outbox set claimed_until = now() + interval '${CLAIM_LEASE}'
      where id in (select id from cache_outbox
                    where purged_at is null and (claimed_until is null or claimed_until < now())
                    for update skip locked)
      returning id`,
  );
  return rows.map(row => String(row.id));
}

/** Marks claimed purges as carried out. */
export async function completePurges(execute: QueryRunner, ids: string[], purgedKeys: number): Promise<void> {
  await execute(`update cache_outbox set purged_at = now(), purged_keys = ?, claimed_until = null where id in (${ids.map(() => '?').join(', ')})`, [
    purgedKeys,
    ...ids,
  ]);
}

/** Gives claimed purges back, to be retried (Redis went away during the purge). */
export async function releasePurges(execute: QueryRunner, ids: string[]): Promise<void> {
  await execute(`update cache_outbox set claimed_until = null where id in (${ids.map(() => '?').join(', ')})`, ids);
}
