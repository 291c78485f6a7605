import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** The advisory lock every enerlink migration run takes: the bytes of "ener" and "link". */
export const MIGRATION_LOCK_KEY = [0x656e6572, 0x6c696e6b] as const;

/** What the holder of the migration lock says it is doing; other processes read it to say what is running. */
export interface LockActivity {
  /** `migration up`, `migration down`, `db:restore`. */
  operation: string;
  /** Who started it: `startup`, `cli`, `admin-api`, ... */
  origin: string;
  host: string;
  pid: number;
  startedAt: string;
  /** The migrations of the run, once planned. */
  migrations?: string[];
}

/** The session holding the migration lock, as PostgreSQL and the holder's own announcement describe it. */
export interface LockHolder {
  /** PostgreSQL backend pid of the holder's session. */
  backendPid: number;
  applicationName: string | null;
  clientAddress: string | null;
  /** Absent when the holder is not an enerlink process or did not announce itself yet. */
  activity?: LockActivity;
}

/** Another process kept the migration lock longer than this process was willing to wait. */
export class MigrationLockTimeoutError extends Error {
  override name = 'MigrationLockTimeoutError';
  /** Who held it when this process gave up; undefined if it was released in the meantime. */
  readonly holder: LockHolder | undefined;
  constructor(message: string, holder: LockHolder | undefined) {
    super(message);
    this.holder = holder;
  }
}

/** The fleet lock, held: say what is being done under it, then release it. */
export interface MigrationLock {
  /** Publishes what this process does under the lock, for the processes that find it taken. */
  announce(activity: Partial<LockActivity>): Promise<void>;
  release(): Promise<void>;
}

// The announcement is the text of the lock session's last statement, which pg_stat_activity
// shows to every session of the same role: no table to write, nothing left behind by a crash.
const ANNOUNCEMENT = /^\/\* enerlink-lock (.*) \*\/ select 1$/s;
// pg_stat_activity keeps the first track_activity_query_size bytes (1024 by default) of it.
const MAX_ANNOUNCED_MIGRATIONS = 12;

/**
 * Takes the fleet-wide migration lock: a session-level PostgreSQL advisory lock on a
 * connection of its own (outside the ORM's pool, which the migrations need). A process that
 * dies loses its connection and with it the lock, so a crash never leaves the fleet locked.
 * Waits up to `timeoutMs` (0: a single try), polling with backoff, then fails with
 * MigrationLockTimeoutError naming the holder and what it announced it is doing.
 */
export async function acquireMigrationLock(
  connectionString: string,
  timeoutMs: number,
  { operation, origin, onWait }: { operation: string; origin: string; onWait?: (holder: string) => void },
): Promise<MigrationLock> {
  const client = new pg.Client({ connectionString, application_name: `enerlink ${operation} (${origin})`.slice(0, 63) });
  client.on('error', () => {});
  await client.connect();
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  let announced = false;
  try {
    for (;;) {
      const { rows } = await client.query('select pg_try_advisory_lock($1, $2) as locked', [...MIGRATION_LOCK_KEY]);
      if (rows[0].locked) break;
      const holder = await readHolder(async sql => (await client.query(sql)).rows);
      if (Date.now() >= deadline) {
        throw new MigrationLockTimeoutError(
          timeoutMs === 0
            ? `another process is migrating this database: ${describeHolder(holder)}`
            : `another process is migrating this database (${describeHolder(holder)}); gave up waiting after ${timeoutMs} ms (MIGRATION_LOCK_TIMEOUT_MS)`,
          holder,
        );
      }
      if (!announced) {
        announced = true;
        onWait?.(describeHolder(holder));
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, 1000);
    }
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  let activity: LockActivity = { operation, origin, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
  const announce = async (update: Partial<LockActivity>) => {
    activity = { ...activity, ...update };
    const migrations = activity.migrations && activity.migrations.length > MAX_ANNOUNCED_MIGRATIONS
      ? [...activity.migrations.slice(0, MAX_ANNOUNCED_MIGRATIONS), `... ${activity.migrations.length - MAX_ANNOUNCED_MIGRATIONS} more`]
      : activity.migrations;
    const text = JSON.stringify({ ...activity, migrations }).replaceAll('*/', '* /');
    await client.query(`/* enerlink-lock ${text} */ select 1`);
  };
  await announce({});
  return {
    announce,
    release: async () => {
      try {
        await client.query('select pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK_KEY]);
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

/** Who holds the migration lock of the database `query` runs in; undefined if nobody. */
export async function readHolder(query: (sql: string) => Promise<Array<Record<string, any>>>): Promise<LockHolder | undefined> {
  const rows = await query(
    `select a.pid, a.application_name, host(a.client_addr) as client_addr, a.query
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.classid = ${MIGRATION_LOCK_KEY[0]} and l.objid = ${MIGRATION_LOCK_KEY[1]}
        and l.database = (select oid from pg_database where datname = current_database())`,
  );
  if (rows.length === 0) return undefined;
  const [row] = rows;
  const holder: LockHolder = { backendPid: row.pid, applicationName: row.application_name || null, clientAddress: row.client_addr ?? null };
  const announcement = ANNOUNCEMENT.exec(row.query ?? '');
  if (announcement) {
    try {
      holder.activity = JSON.parse(announcement[1]);
    } catch {
      // cut short by track_activity_query_size: the backend pid and application name remain
    }
  }
  return holder;
}

/** One line about the holder: what it runs, where, since when. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'holder already gone';
  const { activity } = holder;
  if (!activity) {
    return `pid ${holder.backendPid}${holder.applicationName ? ` ${holder.applicationName}` : ''}${holder.clientAddress ? ` from ${holder.clientAddress}` : ''}`;
  }
  const what = activity.migrations?.length ? `${activity.operation} of ${activity.migrations.join(', ')}` : activity.operation;
  return `${what}, started by ${activity.origin} on ${activity.host} (pid ${activity.pid}) at ${activity.startedAt}`;
}
