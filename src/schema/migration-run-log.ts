import { hostname } from 'node:os';
import { keysetPage, type KeysetPage } from '../db/keyset-page.ts';
import type { QueryRunner } from '../db/query-runner.ts';
import { ServiceTableGuard, type ServiceTable } from '../db/service-tables.ts';
import type { VerificationReport } from './schema-verification.ts';

/** What a run did, as logged, recorded in the run log and returned by a run. */
export interface MigrationRunReport {
  /** `repair`: an operator accepted an edited or deleted migration (migration:repair). */
  method: 'up' | 'down' | 'repair';
  /** Who started it: `startup`, `cli`, `admin-api`, ... */
  origin: string;
  /** `running` until it ends; `interrupted` when its process died before it could say. */
  status: 'running' | 'applied' | 'failed' | 'interrupted' | 'nothing to do';
  startedAt: string;
  durationMs: number;
  migrations: Array<{ name: string; durationMs: number } & Record<string, unknown>>;
  backupFile?: string;
  verification?: VerificationReport;
  error?: string;
  /** Who asked, for a repair (`--by`). */
  actor?: string;
  /** Why, for a repair (`--reason`). */
  reason?: string;
}

/** A run as the run log keeps it (`origin` is null for runs recorded before it was). */
export interface RecordedRun extends Omit<MigrationRunReport, 'origin' | 'backupFile' | 'verification' | 'error' | 'actor' | 'reason'> {
  id: string;
  origin: string | null;
  backupFile: string | null;
  verification: VerificationReport | null;
  error: string | null;
  actor: string | null;
  reason: string | null;
  host: string;
  pid: number;
}

/** enerlink's record of every migration run: who, what, how long, backup, verification. */
export const MIGRATION_RUNS_TABLE: ServiceTable = {
  name: 'enerlink_migration_run',
  create: [
    `create table if not exists enerlink_migration_run (
      id bigserial primary key,
      method varchar(8) not null,
      status varchar(16) not null,
      started_at timestamptz not null,
      duration_ms integer not null,
      migrations jsonb not null,
      backup_file text,
      verification jsonb,
      error text,
      host text not null,
      pid integer not null,
      origin text,
      actor text,
      reason text
    )`,
  ],
  evolve: [
    // a run log created before runs recorded who started them
    'alter table enerlink_migration_run add column if not exists origin text',
    // ... and before repairs were recorded (method `repair`, by whom and why); the column is
    // widened only when it is narrow, so a process starting later takes no lock for it
    'alter table enerlink_migration_run add column if not exists actor text, add column if not exists reason text',
    `do $$ begin
       if (select character_maximum_length from information_schema.columns
            where table_schema = current_schema() and table_name = 'enerlink_migration_run' and column_name = 'method') < 8 then
         alter table enerlink_migration_run alter column method type varchar(8);
       end if;
     end $$`,
  ],
};

/** Writes and reads the run log (`enerlink_migration_run`), created on first use. */
export class MigrationRunLog {
  readonly #query: QueryRunner;
  readonly #table: ServiceTableGuard;

  constructor(query: QueryRunner) {
    this.#query = query;
    this.#table = new ServiceTableGuard(query, MIGRATION_RUNS_TABLE);
  }

  /** Records a run that is over in one row (a repair, which changes no schema). */
  async record(report: MigrationRunReport): Promise<void> {
    const id = await this.start(report);
    await this.finish(id, report);
  }

  /**
   * Records a run as it starts (status `running`), so that one whose process is killed leaves
   * its trace; first marks `interrupted` the runs left `running` by processes that died (the
   * caller holds the fleet lock, so no other run is in progress). Returns the run's id.
   */
  async start(report: MigrationRunReport): Promise<string> {
    await this.#table.ready();
    await this.#query(
      `update enerlink_migration_run set status = 'interrupted', error = coalesce(error, 'its process ended before the run finished') where status = 'running'`,
    );
    const [{ id }] = await this.#query(
      `insert into enerlink_migration_run (method, origin, status, started_at, duration_ms, migrations, host, pid, actor, reason)
       values (?, ?, 'running', ?, 0, ?, ?, ?, ?, ?) returning id::text`,
      [report.method, report.origin, report.startedAt, JSON.stringify(report.migrations), hostname(), process.pid, report.actor ?? null, report.reason ?? null],
    );
    return id;
  }

  /** Records how the run `id` ended. */
  async finish(id: string, report: MigrationRunReport): Promise<void> {
    await this.#query(
      `update enerlink_migration_run set status = ?, duration_ms = ?, migrations = ?, backup_file = ?, verification = ?, error = ? where id = ?`,
      [
        report.status,
        report.durationMs,
        JSON.stringify(report.migrations),
        report.backupFile ?? null,
        report.verification ? JSON.stringify(report.verification) : null,
        report.error ?? null,
        id,
      ],
    );
  }

  /** The recorded runs, newest first, `limit` at a time, older than the run `before`. */
  async list({ limit, before }: { limit: number; before?: string }): Promise<KeysetPage<RecordedRun>> {
    await this.#table.ready();
    const rows = await this.#query(
      `select ${COLUMNS}
         from enerlink_migration_run ${before === undefined ? '' : 'where id < ?'} order by id desc limit ?`,
      before === undefined ? [limit + 1] : [before, limit + 1],
    );
    return keysetPage(rows, limit, recordedRunOf);
  }

  /** The newest failed run, or null. */
  async lastFailed(): Promise<RecordedRun | null> {
    await this.#table.ready();
    const [row] = await this.#query(`select ${COLUMNS} from enerlink_migration_run where status = 'failed' order by id desc limit 1`);
    return row ? recordedRunOf(row) : null;
  }

  /** For each migration, the newest `up` run that applied it: when, how long, from where. */
  async appliers(): Promise<Map<string, MigrationApplier>> {
    await this.#table.ready();
    const rows = await this.#query(
      `select distinct on (m->>'name') m->>'name' as name, (m->>'durationMs')::float8 as duration_ms, r.id::text as run_id, r.origin, r.host, r.pid, r.started_at
         from enerlink_migration_run r cross join lateral jsonb_array_elements(r.migrations) m
        where r.method = 'up'
        order by m->>'name', r.id desc`,
    );
    return new Map(
      rows.map(row => [
        String(row.name).replace(/\.[jt]s$/, ''),
        { runId: row.run_id, origin: row.origin, host: row.host, pid: row.pid, durationMs: row.duration_ms, runStartedAt: new Date(row.started_at).toISOString() },
      ]),
    );
  }
}

/** The run that applied a migration, as the run log remembers it. */
export interface MigrationApplier {
  runId: string;
  origin: string | null;
  host: string;
  pid: number;
  durationMs: number;
  runStartedAt: string;
}

const COLUMNS = 'id::text, method, origin, status, started_at, duration_ms, migrations, backup_file, verification, error, host, pid, actor, reason';

function recordedRunOf(row: Record<string, any>): RecordedRun {
  return {
    id: row.id,
    method: row.method,
    origin: row.origin,
    status: row.status,
    startedAt: new Date(row.started_at).toISOString(),
    durationMs: row.duration_ms,
    migrations: row.migrations,
    backupFile: row.backup_file,
    verification: row.verification,
    error: row.error,
    host: row.host,
    pid: row.pid,
    actor: row.actor,
    reason: row.reason,
  };
}
