import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** The advisory lock every enerlink migration run takes: the bytes of "ener" and "link". */
export const MIGRATION_LOCK_KEY = [0x656e6572, 0x6c696e6b] as const;

/** Another process kept the migration lock longer than this process was willing to wait. */
export class MigrationLockTimeoutError extends Error {
  override name = 'MigrationLockTimeoutError';
}

/** SQL telling whether any session holds the migration lock (a migration is running). */
export const MIGRATION_LOCK_HELD_SQL = `select exists (
  select 1 from pg_locks
   where locktype = 'advisory' and granted and classid = ${MIGRATION_LOCK_KEY[0]} and objid = ${MIGRATION_LOCK_KEY[1]}
     and database = (select oid from pg_database where datname = current_database())
) as held`;

/**
 * Takes the fleet-wide migration lock: a session-level PostgreSQL advisory lock on a
 * connection of its own (outside the ORM's pool, which the migrations need). A process that
 * dies loses its connection and with it the lock, so a crash never leaves the fleet locked.
 * Waits up to `timeoutMs`, polling with backoff, then fails with a message naming the holder.
 * Returns the function that releases it.
 */
export async function acquireMigrationLock(
  connectionString: string,
  timeoutMs: number,
  onWait?: (holder: string) => void,
): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString, application_name: 'enerlink-migrator' });
  client.on('error', () => {});
  await client.connect();
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  let announced = false;
  try {
    for (;;) {
      const { rows } = await client.query('select pg_try_advisory_lock($1, $2) as locked', [...MIGRATION_LOCK_KEY]);
      if (rows[0].locked) break;
      const holder = await describeHolder(client);
      if (Date.now() >= deadline) {
        throw new MigrationLockTimeoutError(
          `another process is migrating this database (${holder}); gave up waiting after ${timeoutMs} ms (MIGRATION_LOCK_TIMEOUT_MS)`,
        );
      }
      if (!announced) {
        announced = true;
        onWait?.(holder);
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, 1000);
    }
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return async () => {
    try {
      await client.query('select pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK_KEY]);
    } finally {
      await client.end().catch(() => {});
    }
  };
}

async function describeHolder(client: pg.Client): Promise<string> {
  const { rows } = await client.query(
    `select a.pid, a.application_name, a.client_addr, now() - a.xact_start as running
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.classid = $1 and l.objid = $2
        and l.database = (select oid from pg_database where datname = current_database())`,
    [...MIGRATION_LOCK_KEY],
  );
  if (rows.length === 0) return 'holder already gone';
  const [row] = rows;
  return `pid ${row.pid}${row.application_name ? ` ${row.application_name}` : ''}${row.client_addr ? ` from ${row.client_addr}` : ''}`;
}
