import type { QueryRunner } from './query-runner.ts';

/**
 * A table of enerlink's own machinery (the migration run log, the admin audit log) rather than
 * of the schema the migrations build: it must exist before the first migration runs and
 * survive every `down`, since a rollback is exactly what it has to remember. So it is created
 * on first use by the module that owns it, never by a migration, and kept out of
 * `migration:check` and of the schema comparisons (see `SERVICE_TABLE_NAMES` in orm-config).
 */
export interface ServiceTable {
  name: string;
  /** `create table if not exists` and `create index if not exists` statements. */
  create: string[];
  /** Idempotent changes of later releases (`alter table ... add column if not exists`). */
  evolve?: string[];
}

/**
 * A concurrent CREATE of the same object: duplicate_table or duplicate_object, or a unique index
 * of the catalogs (pg_type for the table's row type, pg_class for it or its sequence).
 */
export function isDuplicateObject(error: unknown): boolean {
  const catalogIndex = /pg_type_typname_nsp_index|pg_class_relname_nsp_index/;
  for (let e = error as { code?: string; message?: string; constraint?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '42P07' || e.code === '42710') return true;
    if (e.code === '23505' && catalogIndex.test(`${e.constraint ?? ''} ${e.message ?? ''}`)) return true;
    if (/already exists/.test(e.message ?? '') || catalogIndex.test(e.message ?? '')) return true;
  }
  return false;
}

/**
 * Creates a service table on first use, once per process (again after a failure). Instances
 * starting together may both try: `if not exists` is not atomic in PostgreSQL, so the loser
 * of that race runs the statements once more and finds everything there.
 */
export class ServiceTableGuard {
  readonly #query: QueryRunner;
  readonly #table: ServiceTable;
  #ready: Promise<void> | undefined;

  constructor(query: QueryRunner, table: ServiceTable) {
    this.#query = query;
    this.#table = table;
  }

  ready(): Promise<void> {
    this.#ready ??= this.#create().catch(error => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #create(): Promise<void> {
    const statements = [...this.#table.create, ...(this.#table.evolve ?? [])];
    try {
      for (const sql of statements) await this.#query(sql);
    } catch (error) {
      if (!isDuplicateObject(error)) throw error;
      for (const sql of statements) await this.#query(sql);
    }
  }
}
