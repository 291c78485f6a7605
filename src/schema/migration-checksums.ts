import { createHash } from 'node:crypto';
import type { QueryRunner } from '../db/query-runner.ts';
import { ServiceTableGuard, type ServiceTable } from '../db/service-tables.ts';

/**
 * What a migration runs, as its checksum covers it: the SQL its `up()` and `down()` build (as
 * MikroORM would send it) and whether it runs in a transaction. Not the file's bytes: a comment,
 * a lint annotation or a reformatting changes nothing that runs, while an edit to a constant
 * the SQL is built from does.
 */
export interface MigrationContent {
  transactional: boolean;
  up: string[];
  /** null: the migration has no `down()` (MikroORM's default throws). */
  down: string[] | null;
}

/** sha256 (hex) of what a migration runs. */
export function checksumOf(content: MigrationContent): string {
  return createHash('sha256')
    .update(JSON.stringify({ transactional: content.transactional, up: content.up, down: content.down }))
    .digest('hex');
}

/** How a checksum came to be recorded. */
export type ChecksumSource = 'run' | 'adoption' | 'backfill' | 'repair';

/** A checksum as recorded when its migration was applied (or adopted, backfilled, repaired). */
export interface RecordedChecksum {
  name: string;
  checksum: string;
  recordedAt: Date;
  /** The run's origin (`startup`, `cli`, `admin-api`), or who repaired it. */
  recordedBy: string;
  source: ChecksumSource;
}

/**
 * The checksums of applied migrations. A table of enerlink's own: mikro_orm_migrations is
 * MikroORM's, and a column added to it would be one MikroORM does not know of.
 */
export const MIGRATION_CHECKSUMS_TABLE: ServiceTable = {
  name: 'enerlink_migration_checksum',
  create: [
    `create table if not exists enerlink_migration_checksum (
      name text primary key,
      checksum char(64) not null,
      recorded_at timestamptz not null default now(),
      recorded_by text not null,
      source varchar(16) not null
    )`,
  ],
};

/** Reads and writes `enerlink_migration_checksum`, created on first use. */
export class MigrationChecksums {
  readonly #query: QueryRunner;
  readonly #table: ServiceTableGuard;

  constructor(query: QueryRunner) {
    this.#query = query;
    this.#table = new ServiceTableGuard(query, MIGRATION_CHECKSUMS_TABLE);
  }

  ready(): Promise<void> {
    return this.#table.ready();
  }

  async all(): Promise<Map<string, RecordedChecksum>> {
    await this.ready();
    const rows = await this.#query('select name, checksum, recorded_at, recorded_by, source from enerlink_migration_checksum');
    return new Map(
      rows.map(row => [row.name, { name: row.name, checksum: row.checksum, recordedAt: new Date(row.recorded_at), recordedBy: row.recorded_by, source: row.source }]),
    );
  }

  /** Records (or replaces) checksums through `execute`: in a batch's transaction, they commit with it. */
  async record(execute: QueryRunner, rows: Array<Omit<RecordedChecksum, 'recordedAt'>>): Promise<void> {
    for (const row of rows) {
      await execute(
        `insert into enerlink_migration_checksum (name, checksum, recorded_by, source) values (?, ?, ?, ?)
         on conflict (name) do update set checksum = excluded.checksum, recorded_at = now(), recorded_by = excluded.recorded_by, source = excluded.source`,
        [row.name, row.checksum, row.recordedBy, row.source],
      );
    }
  }

  /** Forgets the checksums of reverted (or forgotten) migrations. */
  async forget(execute: QueryRunner, names: string[]): Promise<void> {
    if (names.length === 0) return;
    await execute(`delete from enerlink_migration_checksum where name in (${names.map(() => '?').join(', ')})`, names);
  }
}
