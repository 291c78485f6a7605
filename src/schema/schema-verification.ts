import type { QueryRunner } from '../db/query-runner.ts';

/** One line of the integrity report. */
export interface VerificationCheck {
  name: 'foreign keys' | 'indexes' | 'orphaned rows' | 'row counts';
  ok: boolean;
  detail: string;
}

/** The post-migration checklist of the customer's guide, automated. */
export interface VerificationReport {
  ok: boolean;
  checkedAt: string;
  /**
   * `run`: what a migration run could have broken, at a cost independent of the row count;
   * `full`: every check over every row (on demand, never under the migration lock).
   */
  scope: 'run' | 'full';
  checks: VerificationCheck[];
  /** Row count of every table (but the excluded ones): exact for `full`, PostgreSQL's estimate for `run`. */
  counts: Record<string, number>;
}

/** What the entities expect of the schema; checked only when the schema is at the latest version. */
export interface ExpectedSchema {
  foreignKeys: Array<{ table: string; name: string; referencedTable: string }>;
  indexes: Array<{ table: string; name: string }>;
}

/**
 * The catalog before a run, read in milliseconds whatever the size: each table (by oid, which a
 * rename keeps) and whether it has a row, and each foreign key (by oid, which a drop and
 * re-create changes).
 */
export interface CatalogSnapshot {
  tables: Record<string, { name: string; hasRows: boolean }>;
  foreignKeys: Record<string, { validated: boolean }>;
}

/** Rows a run's own transaction deleted, per table (PostgreSQL counts them per transaction). */
export type RowsDeleted = Record<string, number>;

export async function snapshotCatalog(query: QueryRunner, exclude: readonly string[]): Promise<CatalogSnapshot> {
  const tables = await query(
    `select c.oid::text as oid, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname = current_schema()`,
  );
  const snapshot: CatalogSnapshot = { tables: {}, foreignKeys: {} };
  for (const { oid, name } of tables) {
    if (exclude.includes(name)) continue;
    const [{ has_rows }] = await query(`select exists (select 1 from ${quoteIdent(name)}) as has_rows`);
    snapshot.tables[oid] = { name, hasRows: has_rows };
  }
  const foreignKeys = await query(
    `select con.oid::text as oid, con.convalidated as validated from pg_constraint con
       join pg_namespace n on n.oid = con.connamespace where con.contype = 'f' and n.nspname = current_schema()`,
  );
  for (const { oid, validated } of foreignKeys) snapshot.foreignKeys[oid] = { validated };
  return snapshot;
}

/** Rows deleted so far by the transaction `query` runs in, per table. */
export async function rowsDeletedInTransaction(query: QueryRunner): Promise<RowsDeleted> {
  const rows = await query(`select relname, n_tup_del::bigint as deleted from pg_stat_xact_user_tables where schemaname = current_schema() and n_tup_del > 0`);
  return Object.fromEntries(rows.map(row => [row.relname, Number(row.deleted)]));
}

export interface VerifyOptions {
  scope: 'run' | 'full';
  expected?: ExpectedSchema;
  /** `run` scope: the catalog before the run. */
  before?: CatalogSnapshot;
  /** `run` scope: rows the run's transactions deleted. */
  rowsDeleted?: RowsDeleted;
  exclude?: readonly string[];
}

/**
 * Checks what the guide asks after a migration: foreign keys present, valid and pointing at
 * "user"; indexes present and valid; no orphaned rows; no row lost.
 *
 * For a run, only what the run itself can have changed: PostgreSQL enforces a validated
 * foreign key, so orphans are looked for only behind keys that are NOT VALID or that the run
 * created or re-created; rows are lost only if the run's own transactions deleted them or it
 * dropped a table that had rows. Rows that other sessions wrote meanwhile never fail it.
 */
export async function verifySchema(query: QueryRunner, options: VerifyOptions): Promise<VerificationReport> {
  const exclude = options.exclude ?? [];
  const checks: VerificationCheck[] = [];
  const foreignKeys = (
    await query(
      `select con.oid::text as oid, con.conname as name, c.relname as table, r.relname as referenced, con.convalidated as valid,
              a.attname as column, ra.attname as referenced_column
         from pg_constraint con
         join pg_class c on c.oid = con.conrelid
         join pg_class r on r.oid = con.confrelid
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = con.conrelid and a.attnum = con.conkey[1]
         join pg_attribute ra on ra.attrelid = con.confrelid and ra.attnum = con.confkey[1]
        where con.contype = 'f' and n.nspname = current_schema()
        order by c.relname, con.conname`,
    )
  ).filter(fk => !exclude.includes(fk.table));

  const fkProblems: string[] = [];
  const byName = new Map(foreignKeys.map(fk => [`${fk.table}.${fk.name}`, fk]));
  const [{ user_exists: userExists }] = await query(`select to_regclass('"user"') is not null as user_exists`);
  for (const fk of foreignKeys) {
    if (!fk.valid) fkProblems.push(`${fk.table}.${fk.name} is NOT VALID`);
    if (fk.referenced === 'prosumer' && userExists) fkProblems.push(`${fk.table}.${fk.name} still points at prosumer`);
  }
  for (const want of options.expected?.foreignKeys ?? []) {
    const have = byName.get(`${want.table}.${want.name}`);
    if (!have) fkProblems.push(`${want.table}.${want.name} is missing`);
    else if (have.referenced !== want.referencedTable) {
      fkProblems.push(`${want.table}.${want.name} points at ${have.referenced}, expected ${want.referencedTable}`);
    }
  }
  const toUser = foreignKeys.filter(fk => fk.referenced === 'user').length;
  checks.push({
    name: 'foreign keys',
    ok: fkProblems.length === 0,
    detail: fkProblems.length ? fkProblems.join('; ') : `${foreignKeys.length} present and valid, ${toUser} pointing at "user"`,
  });

  const indexes = await query(
    `select t.relname as table, i.relname as name, x.indisvalid as valid
       from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
       join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = current_schema()`,
  );
  const indexProblems: string[] = indexes.filter(index => !index.valid).map(index => `${index.table}.${index.name} is INVALID`);
  const indexNames = new Set(indexes.map(index => `${index.table}.${index.name}`));
  for (const want of options.expected?.indexes ?? []) {
    if (!indexNames.has(`${want.table}.${want.name}`)) indexProblems.push(`${want.table}.${want.name} is missing`);
  }
  checks.push({
    name: 'indexes',
    ok: indexProblems.length === 0,
    detail: indexProblems.length ? indexProblems.join('; ') : `${indexes.length} present and valid`,
  });

  const { before } = options;
  const scanned = options.scope === 'full' ? foreignKeys : foreignKeys.filter(fk => !fk.valid || before?.foreignKeys[fk.oid]?.validated !== true);
  const orphans: string[] = [];
  for (const fk of scanned) {
    const [row] = await query(
      `select count(*)::bigint as count from ${quoteIdent(fk.table)} child
        where child.${quoteIdent(fk.column)} is not null
          and not exists (select 1 from ${quoteIdent(fk.referenced)} parent where parent.${quoteIdent(fk.referenced_column)} = child.${quoteIdent(fk.column)})`,
    );
    if (Number(row.count) > 0) orphans.push(`${row.count} in ${fk.table}.${fk.column} (${fk.name})`);
  }
  const enforced = foreignKeys.length - scanned.length;
  checks.push({
    name: 'orphaned rows',
    ok: orphans.length === 0,
    detail: orphans.length
      ? orphans.join('; ')
      : options.scope === 'full'
        ? `none across ${foreignKeys.length} foreign keys`
        : `none behind the ${scanned.length} foreign key(s) the run created or that are not validated; PostgreSQL enforces the other ${enforced}`,
  });

  const counts = options.scope === 'full' ? await exactCounts(query, exclude) : await estimatedCounts(query, exclude);
  if (options.scope === 'run' && before) {
    const lost: string[] = [];
    const present = new Set((await query(`select c.oid::text as oid from pg_class c where c.relkind in ('r', 'p')`)).map(row => row.oid));
    for (const [oid, table] of Object.entries(before.tables)) {
      if (!present.has(oid) && table.hasRows) lost.push(`table ${table.name} was dropped with its rows`);
    }
    for (const [table, deleted] of Object.entries(options.rowsDeleted ?? {})) {
      if (!exclude.includes(table)) lost.push(`${deleted} row(s) of ${table} deleted by the run`);
    }
    checks.push({
      name: 'row counts',
      ok: lost.length === 0,
      detail: lost.length
        ? lost.join('; ')
        : `no row deleted and no table with rows dropped by the run, in ${Object.keys(before.tables).length} tables (rows other sessions wrote meanwhile are not the run's)`,
    });
  }
  return { ok: checks.every(check => check.ok), checkedAt: new Date().toISOString(), scope: options.scope, checks, counts };
}

/** Exact row count of every table in the current schema but `exclude`: reads every row. */
async function exactCounts(query: QueryRunner, exclude: readonly string[]): Promise<Record<string, number>> {
  const tables = await query(`select tablename from pg_tables where schemaname = current_schema() order by tablename`);
  const counts: Record<string, number> = {};
  for (const { tablename } of tables) {
    if (exclude.includes(tablename)) continue;
    const [row] = await query(`select count(*)::bigint as count from ${quoteIdent(tablename)}`);
    counts[tablename] = Number(row.count);
  }
  return counts;
}

/** PostgreSQL's own estimate of every table's rows (statistics; 0 for a table never analyzed). */
async function estimatedCounts(query: QueryRunner, exclude: readonly string[]): Promise<Record<string, number>> {
  const rows = await query(
    `select c.relname as name, greatest(c.reltuples, coalesce(s.n_live_tup, 0), 0)::bigint as estimate
       from pg_class c join pg_namespace n on n.oid = c.relnamespace left join pg_stat_user_tables s on s.relid = c.oid
      where c.relkind in ('r', 'p') and n.nspname = current_schema() order by c.relname`,
  );
  return Object.fromEntries(rows.filter(row => !exclude.includes(row.name)).map(row => [row.name, Number(row.estimate)]));
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
