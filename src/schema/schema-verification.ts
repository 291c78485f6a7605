import type { QueryRunner } from './schema-fingerprint.ts';

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
  checks: VerificationCheck[];
  /** Exact row count of every table (but the excluded ones) when the checks ran. */
  counts: Record<string, number>;
}

/** What the entities expect of the schema; checked only when the schema is at the latest version. */
export interface ExpectedSchema {
  foreignKeys: Array<{ table: string; name: string; referencedTable: string }>;
  indexes: Array<{ table: string; name: string }>;
}

/** Tables a migration renames, so row counts can be compared across the rename. */
const TABLE_RENAMES: Record<string, string> = { prosumer: 'user', user: 'prosumer' };

/** Exact row count of every table in the current schema but `exclude`. */
export async function countRows(query: QueryRunner, exclude: readonly string[] = []): Promise<Record<string, number>> {
  const tables = await query(`select tablename from pg_tables where schemaname = current_schema() order by tablename`);
  const counts: Record<string, number> = {};
  for (const { tablename } of tables) {
    if (exclude.includes(tablename)) continue;
    const [row] = await query(`select count(*)::bigint as count from "${tablename.replace(/"/g, '""')}"`);
    counts[tablename] = Number(row.count);
  }
  return counts;
}

/**
 * Checks what the guide asks after a migration: foreign keys present, valid and pointing at
 * "user"; indexes present and valid; no orphaned rows; row counts unchanged (when the counts
 * before the run are given).
 */
export async function verifySchema(
  query: QueryRunner,
  options: { expected?: ExpectedSchema; countsBefore?: Record<string, number>; exclude?: readonly string[] } = {},
): Promise<VerificationReport> {
  const checks: VerificationCheck[] = [];
  const foreignKeys = await query(
    `select con.conname as name, c.relname as table, r.relname as referenced, con.convalidated as valid,
            a.attname as column, ra.attname as referenced_column
       from pg_constraint con
       join pg_class c on c.oid = con.conrelid
       join pg_class r on r.oid = con.confrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = con.conrelid and a.attnum = con.conkey[1]
       join pg_attribute ra on ra.attrelid = con.confrelid and ra.attnum = con.confkey[1]
      where con.contype = 'f' and n.nspname = current_schema()
      order by c.relname, con.conname`,
  );

  const fkProblems: string[] = [];
  const byName = new Map(foreignKeys.map(fk => [`${fk.table}.${fk.name}`, fk]));
  for (const fk of foreignKeys) {
    if (!fk.valid) fkProblems.push(`${fk.table}.${fk.name} is NOT VALID`);
    if (fk.referenced === 'prosumer' && byName.size && (await tableExists(query, 'user'))) {
      fkProblems.push(`${fk.table}.${fk.name} still points at prosumer`);
    }
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

  const orphans: string[] = [];
  for (const fk of foreignKeys) {
    const [row] = await query(
      `select count(*)::bigint as count from "${fk.table}" child
        where child."${fk.column}" is not null
          and not exists (select 1 from "${fk.referenced}" parent where parent."${fk.referenced_column}" = child."${fk.column}")`,
    );
    if (Number(row.count) > 0) orphans.push(`${row.count} in ${fk.table}.${fk.column} (${fk.name})`);
  }
  checks.push({
    name: 'orphaned rows',
    ok: orphans.length === 0,
    detail: orphans.length ? orphans.join('; ') : `none across ${foreignKeys.length} foreign keys`,
  });

  const after = await countRows(query, options.exclude);
  if (options.countsBefore) {
    const changed: string[] = [];
    let compared = 0;
    for (const [table, before] of Object.entries(options.countsBefore)) {
      const now = after[table] ?? (TABLE_RENAMES[table] ? after[TABLE_RENAMES[table]] : undefined);
      if (now === undefined) continue;
      compared++;
      if (now !== before) changed.push(`${table}: ${before} before, ${now} after`);
    }
    checks.push({
      name: 'row counts',
      ok: changed.length === 0,
      detail: changed.length ? changed.join('; ') : `unchanged in ${compared} tables`,
    });
  }
  return { ok: checks.every(check => check.ok), checkedAt: new Date().toISOString(), checks, counts: after };
}

async function tableExists(query: QueryRunner, table: string): Promise<boolean> {
  const [row] = await query(`select to_regclass(?) is not null as exists`, [`"${table}"`]);
  return row.exists;
}
