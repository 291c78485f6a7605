import { tableExists, type QueryRunner } from '../db/query-runner.ts';
import { readSchemaGeneration } from './schema-generation.ts';

/** The cache's durable record of purges owed (created by its migration, mapped by its entity). */
export const CACHE_OUTBOX_TABLE = 'cache_outbox';

/**
 * The PostgreSQL channel on which every schema or bulk data change is announced, whoever makes
 * it: the database, not the cache's namespace or Redis, is what all instances share.
 */
export const SCHEMA_CHANGE_CHANNEL = 'enerlink_schema_change';

/**
 * The PostgreSQL channel on which changes of cached entities made through the ORM are announced,
 * in the transaction that makes them (so only if it commits): each instance's in-process tier
 * drops what depends on them at once. The payload is a JSON array of `{ entity, id }`.
 */
export const ENTITY_CHANGE_CHANNEL = 'enerlink_entity_change';

/** NOTIFY payloads must stay under 8000 bytes: larger batches are sent in several notifications. */
const MAX_NOTIFY_PAYLOAD = 7000;

/** Announces `changes` on ENTITY_CHANGE_CHANNEL with `execute` (in the changing transaction: delivered on commit). */
export async function announceEntityChanges(execute: QueryRunner, changes: Iterable<{ entity: string; id: string }>): Promise<void> {
  let batch: Array<{ entity: string; id: string }> = [];
  let length = 2;
  const send = async () => {
    if (batch.length > 0) await execute('select pg_notify(?, ?)', [ENTITY_CHANGE_CHANNEL, JSON.stringify(batch)]);
    batch = [];
    length = 2;
  };
  for (const { entity, id } of changes) {
    const size = entity.length + id.length + 30;
    if (length + size > MAX_NOTIFY_PAYLOAD) await send();
    batch.push({ entity, id });
    length += size;
  }
  await send();
}

/** The changes an ENTITY_CHANGE_CHANNEL payload names; nothing for a payload that is not ours. */
export function parseEntityChanges(payload: string | undefined): Array<{ entity: string; id: string }> {
  try {
    const changes: unknown = JSON.parse(payload ?? '');
    if (!Array.isArray(changes)) return [];
    return changes.filter(
      (change): change is { entity: string; id: string } => typeof change?.entity === 'string' && typeof change?.id === 'string',
    );
  } catch {
    return [];
  }
}

/** How long a claimed purge is left to the instance carrying it out before another may retry it. */
const CLAIM_LEASE = '10 minutes';

/** A seed's row: a bulk data change, not a migration (its `migrations` is empty). */
const DATA_CHANGE = '';

/**
 * Records a committed schema change in the transaction `execute` runs in: the purge owed (in
 * the outbox, when it exists) and a NOTIFY that PostgreSQL delivers to every listening instance
 * when, and only if, the transaction commits. Returns the new generation.
 */
export async function recordSchemaChange(execute: QueryRunner, migrations: string[]): Promise<string> {
  return record(execute, migrations.join(','));
}

/**
 * Records a bulk data change (a seed) the same way. Its outbox row takes part in the generation
 * (see schema-generation.ts), so every entry cached before it is retired, on every instance.
 */
export async function recordDataChange(execute: QueryRunner): Promise<string> {
  return record(execute, DATA_CHANGE);
}

async function record(execute: QueryRunner, migrations: string): Promise<string> {
  let generation: string;
  if (await tableExists(execute, CACHE_OUTBOX_TABLE)) {
    const [{ id }] = await execute(`insert into ${CACHE_OUTBOX_TABLE} (generation, migrations) values ('', ?) returning id`, [migrations]);
    generation = await readSchemaGeneration(execute);
    await execute(`update ${CACHE_OUTBOX_TABLE} set generation = ? where id = ?`, [generation, id]);
  } else {
    generation = await readSchemaGeneration(execute);
  }
  await execute('select pg_notify(?, ?)', [SCHEMA_CHANGE_CHANNEL, JSON.stringify({ generation, migrations: migrations ? migrations.split(',') : [] })]);
  return generation;
}

/**
 * Claims every pending purge that no other instance is carrying out, for a lease; returns
 * their ids. One purge of every old generation settles them all.
 */
export async function claimPendingPurges(execute: QueryRunner): Promise<string[]> {
  if (!(await tableExists(execute, CACHE_OUTBOX_TABLE))) return [];
  const rows = await execute(
    `update ${CACHE_OUTBOX_TABLE} set claimed_until = now() + interval '${CLAIM_LEASE}'
      where id in (select id from ${CACHE_OUTBOX_TABLE}
                    where purged_at is null and (claimed_until is null or claimed_until < now())
                    for update skip locked)
      returning id`,
  );
  return rows.map(row => String(row.id));
}

/** Marks claimed purges as carried out. */
export async function completePurges(execute: QueryRunner, ids: string[], purgedKeys: number): Promise<void> {
  await execute(`update ${CACHE_OUTBOX_TABLE} set purged_at = now(), purged_keys = ?, claimed_until = null where id in (${ids.map(() => '?').join(', ')})`, [
    purgedKeys,
    ...ids,
  ]);
}

/** Gives claimed purges back, to be retried (Redis went away during the purge). */
export async function releasePurges(execute: QueryRunner, ids: string[]): Promise<void> {
  await execute(`update ${CACHE_OUTBOX_TABLE} set claimed_until = null where id in (${ids.map(() => '?').join(', ')})`, ids);
}

/** The outbox as an operator checks it: what is still owed, and how the purges went. */
export interface OutboxProgress {
  /** The outbox table exists (its migration is applied). */
  present: boolean;
  /** Purges not carried out yet; `claimed` of them being carried out by an instance right now. */
  pending: number;
  claimed: number;
  oldestPendingAt: Date | null;
  purged: number;
  lastPurgedAt: Date | null;
  /** Keys deleted by the purges carried out so far. */
  purgedKeys: number;
}

/** How far the fleet's caches are with the purges the outbox holds. */
export async function readOutboxProgress(execute: QueryRunner): Promise<OutboxProgress> {
  if (!(await tableExists(execute, CACHE_OUTBOX_TABLE))) {
    return { present: false, pending: 0, claimed: 0, oldestPendingAt: null, purged: 0, lastPurgedAt: null, purgedKeys: 0 };
  }
  const [row] = await execute(
    `select count(*) filter (where purged_at is null)::int as pending,
            count(*) filter (where purged_at is null and claimed_until > now())::int as claimed,
            min(created_at) filter (where purged_at is null) as oldest_pending_at,
            count(purged_at)::int as purged, max(purged_at) as last_purged_at, coalesce(sum(purged_keys), 0)::bigint as purged_keys
       from ${CACHE_OUTBOX_TABLE}`,
  );
  return {
    present: true,
    pending: row.pending,
    claimed: row.claimed,
    oldestPendingAt: row.oldest_pending_at ? new Date(row.oldest_pending_at) : null,
    purged: row.purged,
    lastPurgedAt: row.last_purged_at ? new Date(row.last_purged_at) : null,
    purgedKeys: Number(row.purged_keys),
  };
}
