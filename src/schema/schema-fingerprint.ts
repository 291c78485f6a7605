import type { QueryRunner } from '../db/query-runner.ts';

export interface ColumnShape {
  type: string;
  notNull: boolean;
  default: string | null;
  comment: string | null;
}

export interface TableShape {
  comment: string | null;
  columns: Record<string, ColumnShape>;
  /** Constraint name -> `pg_get_constraintdef`. */
  constraints: Record<string, string>;
  /** Index name -> `pg_get_indexdef`, with the schema name removed. */
  indexes: Record<string, string>;
  /** Names of indexes PostgreSQL marks invalid (an interrupted CREATE INDEX CONCURRENTLY). */
  invalidIndexes: string[];
}

/** What a schema looks like to its users, independent of the schema's name and column order. */
export type SchemaFingerprint = Record<string, TableShape>;

/**
 * Reads the shape of every table in `schemaName` from the PostgreSQL catalogs: columns
 * (type, nullability, default, comment), constraints and indexes by name and definition.
 */
export async function readSchemaFingerprint(
  query: QueryRunner,
  schemaName = 'public',
  excludeTables: readonly string[] = [],
): Promise<SchemaFingerprint> {
  const unqualify = (text: string | null) => (text === null ? null : stripSchema(text, schemaName));
  const fingerprint: SchemaFingerprint = {};
  const excluded = new Set(excludeTables);

  const tables = await query(
    `select c.relname as name, obj_description(c.oid, 'pg_class') as comment
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ? and c.relkind in ('r', 'p')`,
    [schemaName],
  );
  for (const table of tables) {
    if (excluded.has(table.name)) continue;
    fingerprint[table.name] = { comment: table.comment, columns: {}, constraints: {}, indexes: {}, invalidIndexes: [] };
  }

  const columns = await query(
    `select c.relname as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as default,
            col_description(c.oid, a.attnum) as comment
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where n.nspname = ? and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`,
    [schemaName],
  );
  for (const column of columns) {
    const table = fingerprint[column.table];
    if (!table) continue;
    table.columns[column.name] = {
      type: column.type,
      notNull: column.not_null,
      default: unqualify(column.default),
      comment: column.comment,
    };
  }

  const constraints = await query(
    `select c.relname as table, con.conname as name, pg_get_constraintdef(con.oid) as definition
       from pg_constraint con
       join pg_class c on c.oid = con.conrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ?`,
    [schemaName],
  );
  for (const constraint of constraints) {
    const table = fingerprint[constraint.table];
    if (table) table.constraints[constraint.name] = unqualify(constraint.definition)!;
  }

  const indexes = await query(
    `select t.relname as table, i.relname as name, pg_get_indexdef(i.oid) as definition, x.indisvalid as valid
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_class t on t.oid = x.indrelid
       join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = ?`,
    [schemaName],
  );
  for (const index of indexes) {
    const table = fingerprint[index.table];
    if (!table) continue;
    table.indexes[index.name] = unqualify(index.definition)!;
    if (!index.valid) table.invalidIndexes.push(index.name);
  }
  return fingerprint;
}

/**
 * Lists, one readable line each, how `actual` differs from `expected`; empty when they match.
 */
export function diffSchemaFingerprints(expected: SchemaFingerprint, actual: SchemaFingerprint): string[] {
  const differences: string[] = [];
  for (const name of sortedKeys(expected)) {
    if (!actual[name]) differences.push(`table ${name}: missing`);
  }
  for (const name of sortedKeys(actual)) {
    if (!expected[name]) differences.push(`table ${name}: not in the contract`);
  }
  for (const name of sortedKeys(expected)) {
    const want = expected[name];
    const have = actual[name];
    if (!have) continue;
    if (want.comment !== have.comment) {
      differences.push(`table ${name}: comment ${show(have.comment)}, expected ${show(want.comment)}`);
    }
    compareEntries(`table ${name}: column`, want.columns, have.columns, differences, (w, h) => {
      const fields: string[] = [];
      if (w.type !== h.type) fields.push(`type ${h.type}, expected ${w.type}`);
      if (w.notNull !== h.notNull) fields.push(h.notNull ? 'NOT NULL, expected nullable' : 'nullable, expected NOT NULL');
      if (w.default !== h.default) fields.push(`default ${show(h.default)}, expected ${show(w.default)}`);
      if (w.comment !== h.comment) fields.push(`comment ${show(h.comment)}, expected ${show(w.comment)}`);
      return fields.join('; ');
    });
    const compareDefinitions = (w: string, h: string) => (w === h ? '' : `${h}, expected ${w}`);
    compareEntries(`table ${name}: constraint`, want.constraints, have.constraints, differences, compareDefinitions);
    compareEntries(`table ${name}: index`, want.indexes, have.indexes, differences, compareDefinitions);
    // an index expected INVALID (an interrupted build the next migration rebuilds, see legacy-adoption.ts) is no difference
    for (const index of have.invalidIndexes) if (!want.invalidIndexes.includes(index)) differences.push(`table ${name}: index ${index} is INVALID`);
  }
  return differences;
}

function compareEntries<T>(
  label: string,
  expected: Record<string, T>,
  actual: Record<string, T>,
  differences: string[],
  describe: (expected: T, actual: T) => string,
): void {
  for (const key of sortedKeys(expected)) {
    if (!(key in actual)) differences.push(`${label} ${key}: missing`);
  }
  for (const key of sortedKeys(actual)) {
    if (!(key in expected)) differences.push(`${label} ${key}: not in the contract`);
  }
  for (const key of sortedKeys(expected)) {
    if (!(key in actual)) continue;
    const difference = describe(expected[key], actual[key]);
    if (difference) differences.push(`${label} ${key}: ${difference}`);
  }
}

function stripSchema(text: string, schemaName: string): string {
  const escaped = schemaName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![\\w"])(?:"${escaped}"|${escaped})\\.`, 'g'), '');
}

function sortedKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort();
}

function show(value: string | null): string {
  return value === null ? 'none' : JSON.stringify(value);
}
