import type { QueryRunner } from '../db/query-runner.ts';

/** Transactions open longer than this are listed as what would block a migration (see README: DDL waits behind them). */
export const DEFAULT_LONG_TRANSACTION_MS = 1000;
/** How many of the slowest statements pg_stat_statements is asked for. */
export const SLOW_STATEMENTS = 10;
/** Queries are shown up to this many characters: enough to recognize one, not a whole batch. */
const QUERY_CHARS = 500;
const BLOCK_SIZE = "current_setting('block_size')::bigint";

/** How to turn pg_stat_statements on: it needs a server restart, which enerlink never does by itself. */
export const ENABLE_PG_STAT_STATEMENTS =
  "add pg_stat_statements to shared_preload_libraries in postgresql.conf (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'), " +
  'restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database';

/** Sizes are PostgreSQL's page counts as of the table's last VACUUM, ANALYZE or index build. */
export interface TableHealth {
  table: string;
  /** reltuples, PostgreSQL's estimate; the live-tuple count before the first ANALYZE. */
  rowEstimate: number;
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  sequentialScans: number;
  indexScans: number;
  deadRows: number;
  lastAnalyzedAt: Date | null;
}

export interface IndexHealth {
  index: string;
  table: string;
  bytes: number;
  scans: number;
  unique: boolean;
  /** Never scanned since the statistics were reset and enforces nothing: a candidate to drop. */
  unused: boolean;
}

export interface SlowStatement {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  maxMs: number;
  rows: number;
}

export type StatementsReport =
  | { available: true; statements: SlowStatement[] }
  | { available: false; reason: string; howToEnable: string };

export interface LockHeld {
  table: string;
  mode: string;
  granted: boolean;
}

/** A session whose open transaction a migration's DDL would queue behind. */
export interface BlockingSession {
  pid: number;
  user: string | null;
  application: string | null;
  clientAddress: string | null;
  state: string | null;
  idleInTransaction: boolean;
  transactionStartedAt: Date;
  transactionAgeMs: number;
  stateSince: Date | null;
  /** Sessions this one waits for (pg_blocking_pids). */
  waitingFor: number[];
  /** Its last statement (the running one unless idle). */
  query: string;
  /** Table locks it holds or waits for. */
  locks: LockHeld[];
}

export interface DbHealth {
  database: string;
  checkedAt: Date;
  /** Since when the scan counts are counted (pg_stat_database.stats_reset); null: since the database was created. */
  statisticsSince: Date | null;
  tables: TableHealth[];
  indexes: IndexHealth[];
  unusedIndexes: string[];
  slowStatements: StatementsReport;
  connections: { maxConnections: number; server: number; byState: Array<{ state: string; count: number }> };
  blocking: { olderThanMs: number; sessions: BlockingSession[] };
}

export interface DbHealthOptions {
  /** A transaction older than this is listed as blocking (idle in transaction always is). */
  olderThanMs?: number;
}

/**
 * The database at a glance, as the seeds' psql checks read it: sizes, index use, the slowest
 * statements, connections, and what a migration run would wait for right now. Reads only the
 * catalog and statistics views: cheap at any table size, and takes no lock on any table, so it
 * answers even while a migration's DDL waits (and never makes one wait).
 */
export async function readDbHealth(execute: QueryRunner, { olderThanMs = DEFAULT_LONG_TRANSACTION_MS }: DbHealthOptions = {}): Promise<DbHealth> {
  const [overview, tables, indexes, slowStatements, connections, blocking] = await Promise.all([
    readOverview(execute),
    readTables(execute),
    readIndexes(execute),
    readSlowStatements(execute),
    readConnections(execute),
    readBlockingSessions(execute, olderThanMs),
  ]);
  return {
    ...overview,
    tables,
    indexes,
    unusedIndexes: indexes.filter(index => index.unused).map(index => index.index),
    slowStatements,
    connections,
    blocking: { olderThanMs, sessions: blocking },
  };
}

async function readOverview(execute: QueryRunner) {
  const [row] = await execute(
    `select current_database() as database, now() as checked_at, stats_reset from pg_stat_database where datname = current_database()`,
  );
  return { database: row.database as string, checkedAt: new Date(row.checked_at), statisticsSince: row.stats_reset ? new Date(row.stats_reset) : null };
}

async function readTables(execute: QueryRunner): Promise<TableHealth[]> {
  // Sizes come from pg_class (pages as of the last VACUUM, ANALYZE or CREATE INDEX), not from
  // pg_relation_size: that one opens the table with a lock, and so would queue behind a
  // migration's waiting ALTER TABLE exactly when an operator looks.
  const rows = await execute(
    `select s.relname as table_name,
            case when c.reltuples < 0 then s.n_live_tup else c.reltuples::bigint end as row_estimate,
            c.relpages::bigint * ${BLOCK_SIZE} as table_bytes, coalesce(t.relpages, 0)::bigint * ${BLOCK_SIZE} as toast_bytes,
            coalesce((select sum(ic.relpages) from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid), 0)::bigint * ${BLOCK_SIZE} as index_bytes,
            s.seq_scan, coalesce(s.idx_scan, 0) as idx_scan, s.n_dead_tup, greatest(s.last_analyze, s.last_autoanalyze) as last_analyzed
       from pg_stat_user_tables s join pg_class c on c.oid = s.relid left join pg_class t on t.oid = c.reltoastrelid
      where s.schemaname = current_schema()`,
  );
  return rows
    .map(row => ({
      table: row.table_name as string,
      rowEstimate: Number(row.row_estimate),
      totalBytes: Number(row.table_bytes) + Number(row.toast_bytes) + Number(row.index_bytes),
      tableBytes: Number(row.table_bytes) + Number(row.toast_bytes),
      indexBytes: Number(row.index_bytes),
      sequentialScans: Number(row.seq_scan),
      indexScans: Number(row.idx_scan),
      deadRows: Number(row.n_dead_tup),
      lastAnalyzedAt: row.last_analyzed ? new Date(row.last_analyzed) : null,
    }))
    .sort((a, b) => b.totalBytes - a.totalBytes || a.table.localeCompare(b.table));
}

async function readIndexes(execute: QueryRunner): Promise<IndexHealth[]> {
  const rows = await execute(
    `select s.indexrelname as index_name, s.relname as table_name, ic.relpages::bigint * ${BLOCK_SIZE} as bytes, s.idx_scan,
            i.indisunique as is_unique, (i.indisunique or i.indisprimary or i.indisexclusion) as enforces
       from pg_stat_user_indexes s join pg_index i on i.indexrelid = s.indexrelid join pg_class ic on ic.oid = s.indexrelid
      where s.schemaname = current_schema()
      order by s.relname, s.indexrelname`,
  );
  return rows.map(row => ({
    index: row.index_name,
    table: row.table_name,
    bytes: Number(row.bytes),
    scans: Number(row.idx_scan),
    unique: row.is_unique,
    // a unique or primary key index enforces a constraint even when no query reads it
    unused: Number(row.idx_scan) === 0 && !row.enforces,
  }));
}

async function readSlowStatements(execute: QueryRunner): Promise<StatementsReport> {
  const [state] = await execute(
    `select exists (select 1 from pg_extension where extname = 'pg_stat_statements') as installed,
            exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as shipped,
            'pg_stat_statements' = any (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) as preloaded`,
  );
  if (!state.preloaded || !state.installed) {
    const reason = !state.shipped
      ? 'pg_stat_statements is not shipped with this PostgreSQL (install the contrib package)'
      : !state.preloaded
        ? `pg_stat_statements is not in shared_preload_libraries${state.installed ? ' (the extension is created, but collects nothing)' : ''}`
        : 'pg_stat_statements is preloaded, but the extension is not created in this database';
    const howToEnable = state.preloaded ? 'run CREATE EXTENSION pg_stat_statements in this database (no restart needed)' : ENABLE_PG_STAT_STATEMENTS;
    return { available: false, reason, howToEnable };
  }
  const rows = await execute(
    `select left(s.query, ${QUERY_CHARS}) as query, s.calls, s.total_exec_time, s.mean_exec_time, s.max_exec_time, s.rows
       from pg_stat_statements s join pg_database d on d.oid = s.dbid
      where d.datname = current_database()
      order by s.mean_exec_time desc
      limit ${SLOW_STATEMENTS}`,
  );
  return {
    available: true,
    statements: rows.map(row => ({
      query: row.query,
      calls: Number(row.calls),
      totalMs: round(Number(row.total_exec_time)),
      meanMs: round(Number(row.mean_exec_time)),
      maxMs: round(Number(row.max_exec_time)),
      rows: Number(row.rows),
    })),
  };
}

async function readConnections(execute: QueryRunner) {
  const [rows, [server]] = await Promise.all([
    execute(
      `select coalesce(state, 'unknown') as state, count(*)::int as count
         from pg_stat_activity where datname = current_database() and backend_type = 'client backend'
        group by 1 order by 2 desc, 1`,
    ),
    execute(`select current_setting('max_connections')::int as max_connections, count(*)::int as server from pg_stat_activity where backend_type = 'client backend'`),
  ]);
  return { maxConnections: server.max_connections, server: server.server, byState: rows.map(row => ({ state: row.state, count: row.count })) };
}

async function readBlockingSessions(execute: QueryRunner, olderThanMs: number): Promise<BlockingSession[]> {
  // Any open transaction holds its locks until it ends, and an ALTER TABLE queues behind every
  // one of them (and every later query queues behind the ALTER): those are what lock_timeout
  // and the retries of a migration meet.
  const sessions = await execute(
    `select a.pid, a.usename, a.application_name, host(a.client_addr) as client_address, a.state, a.xact_start, a.state_change,
            (extract(epoch from clock_timestamp() - a.xact_start) * 1000)::float8 as age_ms,
            pg_blocking_pids(a.pid) as waiting_for, left(a.query, ${QUERY_CHARS}) as query
       from pg_stat_activity a
      where a.datname = current_database() and a.pid <> pg_backend_pid() and a.xact_start is not null
        and (a.state like 'idle in transaction%' or clock_timestamp() - a.xact_start > make_interval(secs => ?::float8 / 1000))
      order by a.xact_start, a.pid`,
    [olderThanMs],
  );
  if (sessions.length === 0) return [];
  const locks = await execute(
    `select l.pid, c.relname as table_name, l.mode, l.granted
       from pg_locks l join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace
      where l.locktype = 'relation' and l.database = (select oid from pg_database where datname = current_database())
        and c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
        and l.pid = any (string_to_array(?, ',')::int[])
      order by c.relname, l.mode`,
    // one text parameter: the query runner would expand an array into a list
    [sessions.map(session => session.pid).join(',')],
  );
  return sessions.map(session => ({
    pid: session.pid,
    user: session.usename,
    application: session.application_name || null,
    clientAddress: session.client_address,
    state: session.state,
    idleInTransaction: typeof session.state === 'string' && session.state.startsWith('idle in transaction'),
    transactionStartedAt: new Date(session.xact_start),
    transactionAgeMs: Math.round(session.age_ms),
    stateSince: session.state_change ? new Date(session.state_change) : null,
    waitingFor: session.waiting_for ?? [],
    query: session.query ?? '',
    locks: locks.filter(lock => lock.pid === session.pid).map(lock => ({ table: lock.table_name, mode: lock.mode, granted: lock.granted })),
  }));
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
