import type { QueryRunner } from '../db/query-runner.ts';
import { diffSchemaFingerprints, readSchemaFingerprint, type SchemaFingerprint, type TableShape } from './schema-fingerprint.ts';

// Databases without a migration history come in the states the field has: the legacy contract
// as the previous backend created it, or the result of the previous backend's own rename script
// (shared/seeds/001_*, "Complete Migration Script (All-in-One)", or its step-by-step guide, in
// full or stopped between steps). That script renames to the same names as our rename migration
// but leaves some things in their legacy form: the primary key and unique constraint of "user"
// keep their prosumer_* names, token_blacklist.prosumer_id and its foreign key are not renamed,
// the comments and the composite indexes are missing. Every object is thus in one of two forms,
// legacy or renamed, and the rename migration's own statements for the objects still in legacy
// form bring it to exactly what a fresh install has.

/** The migration the previous backend's rename script stands for. */
export const RENAME_MIGRATION = 'Migration20241102000001_RenameProsumerToUser';
/** The composite indexes of the guide; built CONCURRENTLY by their own migration when missing. */
export const COMPOSITE_INDEXES_MIGRATION = 'Migration20241102000002_AddCompositeIndexes';
/**
 * The previous backend's (TypeORM's) record of its migrations. Kept untouched on adoption: it
 * is the only record of what the old backend ran and when, wanted for audits, and enerlink never
 * reads or writes it; schema comparisons leave it out.
 */
export const PREVIOUS_BACKEND_MIGRATIONS_TABLE = 'migrations';

/** The fingerprints a deployed database is recognized against, each read from a scratch schema. */
export interface KnownSchemas {
  /** After the initial migration: the legacy contract. */
  contract: SchemaFingerprint;
  /** After the rename migration. */
  renamed: SchemaFingerprint;
  /** After the composite indexes migration. */
  indexed: SchemaFingerprint;
  /** The rename migration's `up` statements, in order. */
  renameSql: string[];
  /** Names of the initial, rename and composite index migrations. */
  migrations: { initial: string; rename: string; compositeIndexes: string };
}

/** A migration recorded as applied on adoption, with the SQL that does what it would have done that the database lacks. */
export interface AdoptedMigration {
  name: string;
  sql: string[];
}

/** What a database without migration history is, and what adopting it takes. */
export type DeployedState =
  | { state: 'nothing to adopt' }
  | { state: 'legacy' | 'renamed by the previous backend'; adopt: AdoptedMigration[]; expected: SchemaFingerprint }
  | { state: 'unrecognized'; differences: string[] };

/** One statement of the rename migration and the object it renames or comments. */
type RenameStep =
  | { kind: 'table'; from: string; to: string; sql: string }
  | { kind: 'column' | 'constraint'; table: string; from: string; to: string; sql: string }
  | { kind: 'index'; from: string; to: string; sql: string }
  | { kind: 'comment'; table: string; column: string | null; text: string; sql: string };

const IDENTIFIER = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const STATEMENTS: Array<[RegExp, (m: string[], sql: string) => RenameStep]> = [
  [new RegExp(`^ALTER TABLE ${IDENTIFIER} RENAME TO ${IDENTIFIER}$`, 'i'), ([, from, to], sql) => ({ kind: 'table', from: unquote(from), to: unquote(to), sql })],
  [
    new RegExp(`^ALTER TABLE ${IDENTIFIER} RENAME (COLUMN|CONSTRAINT) ${IDENTIFIER} TO ${IDENTIFIER}$`, 'i'),
    ([, table, kind, from, to], sql) => ({ kind: kind.toLowerCase() as 'column' | 'constraint', table: unquote(table), from: unquote(from), to: unquote(to), sql }),
  ],
  [new RegExp(`^ALTER INDEX ${IDENTIFIER} RENAME TO ${IDENTIFIER}$`, 'i'), ([, from, to], sql) => ({ kind: 'index', from: unquote(from), to: unquote(to), sql })],
  [new RegExp(`^COMMENT ON TABLE ${IDENTIFIER} IS '((?:[^']|'')*)'$`, 'i'), ([, table, text], sql) => ({ kind: 'comment', table: unquote(table), column: null, text: text.replace(/''/g, "'"), sql })],
  [
    new RegExp(`^COMMENT ON COLUMN ${IDENTIFIER}\\.${IDENTIFIER} IS '((?:[^']|'')*)'$`, 'i'),
    ([, table, column, text], sql) => ({ kind: 'comment', table: unquote(table), column: unquote(column), text: text.replace(/''/g, "'"), sql }),
  ],
];

/**
 * Reads the rename migration's statements as steps. Reconciling runs the migration's own SQL,
 * so the migration stays the one owner of every name; a statement of another form means the
 * migration changed and this module must learn it.
 */
function parseRenameSql(statements: string[]): RenameStep[] {
  return statements.map(statement => {
    const sql = statement.trim().replace(/\s+/g, ' ');
    for (const [pattern, build] of STATEMENTS) {
      const match = pattern.exec(sql);
      if (match) return build(match, statement.trim());
    }
    throw new Error(`legacy adoption does not understand this statement of ${RENAME_MIGRATION}: ${sql}`);
  });
}

/**
 * Recognizes the state of a database without migration history from its fingerprint (without
 * enerlink's bookkeeping tables): which migrations to record as applied, the SQL that brings it
 * to exactly what they produce, or the differences for which it is refused. Tables none of the
 * known schemas has (TypeORM's `migrations`, for one) are left out, as they always were.
 */
export function recognizeDeployedState(live: SchemaFingerprint, known: KnownSchemas): DeployedState {
  const relevant = new Set([...Object.keys(known.contract), ...Object.keys(known.renamed), ...Object.keys(known.indexed)]);
  const ours = onlyTables(live, relevant);
  if (Object.keys(ours).length === 0) return { state: 'nothing to adopt' };
  const legacyDifferences = diffSchemaFingerprints(known.contract, ours);
  if (legacyDifferences.length === 0) {
    return { state: 'legacy', adopt: [{ name: known.migrations.initial, sql: [] }], expected: known.contract };
  }

  const steps = parseRenameSql(known.renameSql);
  const renamedAlready = steps.some(step => step.kind !== 'comment' && hasObject(ours, steps, step, step.to));
  // nothing renamed: meant to be the legacy contract, and refused against it as before
  if (!renamedAlready) return { state: 'unrecognized', differences: legacyDifferences };

  const canonical = canonicalize(ours, steps);
  // A comment the script did not set is set; one it set differently is a difference, not overwritten.
  const pending = steps.filter(step => {
    if (step.kind !== 'comment') return isPending(ours, steps, step);
    const table = canonical[step.table];
    const target = step.column === null ? table : table?.columns[step.column];
    if (!target || target.comment !== null) return false;
    target.comment = step.text;
    return true;
  });

  // The composite indexes: present and valid, their migration is recorded; missing or left
  // INVALID by an interrupted build, their migration builds them CONCURRENTLY after adoption.
  const composite = addedIndexes(known.renamed, known.indexed);
  const complete = composite.every(({ table, name }) => {
    const shape = canonical[table];
    return shape?.indexes[name] === known.indexed[table].indexes[name] && !shape.invalidIndexes.includes(name);
  });
  let expected = known.indexed;
  if (!complete) {
    // what the database has of them stays until their migration drops and rebuilds it; a different index under the name is a difference
    expected = structuredClone(known.renamed);
    for (const { table, name } of composite) {
      const shape = canonical[table];
      if (!expected[table] || shape?.indexes[name] !== known.indexed[table].indexes[name]) continue;
      expected[table].indexes[name] = shape.indexes[name];
      if (shape.invalidIndexes.includes(name)) expected[table].invalidIndexes.push(name);
    }
  }
  const differences = diffSchemaFingerprints(expected, canonical);
  if (differences.length > 0) return { state: 'unrecognized', differences };
  const adopt: AdoptedMigration[] = [
    { name: known.migrations.initial, sql: [] },
    { name: known.migrations.rename, sql: pending.map(step => step.sql) },
  ];
  if (complete) adopt.push({ name: known.migrations.compositeIndexes, sql: [] });
  return { state: 'renamed by the previous backend', adopt, expected };
}

/**
 * After the adoption's SQL ran (in its transaction, not yet committed): how the schema differs
 * from what the recorded migrations produce; empty when it is exactly that.
 */
export async function differencesAfterAdoption(
  query: QueryRunner,
  schemaName: string,
  excludeTables: readonly string[],
  expected: SchemaFingerprint,
): Promise<string[]> {
  const live = await readSchemaFingerprint(query, schemaName, excludeTables);
  return diffSchemaFingerprints(expected, onlyTables(live, new Set(Object.keys(expected))));
}

function onlyTables(fingerprint: SchemaFingerprint, tables: Set<string>): SchemaFingerprint {
  return Object.fromEntries(Object.entries(fingerprint).filter(([table]) => tables.has(table)));
}

// The table a column or constraint step is about, under whichever name it has now.
function ownTable(live: SchemaFingerprint, steps: RenameStep[], table: string): TableShape | undefined {
  if (live[table]) return live[table];
  const renamed = steps.find(step => step.kind === 'table' && step.to === table);
  return renamed ? live[(renamed as { from: string }).from] : undefined;
}

// Whether the object a step renames exists under `name`.
function hasObject(live: SchemaFingerprint, steps: RenameStep[], step: RenameStep, name: string): boolean {
  switch (step.kind) {
    case 'table':
      return name in live;
    case 'column':
      return name in (ownTable(live, steps, step.table)?.columns ?? {});
    case 'constraint':
      return name in (ownTable(live, steps, step.table)?.constraints ?? {});
    case 'index':
      return Object.values(live).some(table => name in table.indexes);
    case 'comment':
      return false;
  }
}

// Whether a renaming step still has to run: its object is there under the legacy name only.
function isPending(live: SchemaFingerprint, steps: RenameStep[], step: Exclude<RenameStep, { kind: 'comment' }>): boolean {
  return hasObject(live, steps, step, step.from) && !hasObject(live, steps, step, step.to);
}

/**
 * The fingerprint with every legacy name the rename migration renames replaced by its new name,
 * in the keys and inside the definitions (`FOREIGN KEY (prosumer_id) REFERENCES prosumer(...)`).
 * A name whose new name is already taken keeps its legacy name, so it shows as a difference.
 */
function canonicalize(live: SchemaFingerprint, steps: RenameStep[]): SchemaFingerprint {
  const tokens = new Map<string, string>();
  for (const step of steps) {
    if (step.kind === 'comment') continue;
    const spelled = step.kind === 'table' ? quoteLike(step.sql, step.to) : step.to;
    const known = tokens.get(step.from);
    if (known !== undefined && known !== spelled) throw new Error(`${RENAME_MIGRATION} renames ${step.from} to both ${known} and ${spelled}`);
    tokens.set(step.from, spelled);
  }
  const rewrite = (text: string) =>
    text.replace(new RegExp(IDENTIFIER, 'g'), token => {
      const replacement = tokens.get(unquote(token));
      return replacement ?? token;
    });
  const renameKeys = <T>(record: Record<string, T>, kind: 'column' | 'constraint' | 'index', table: string, map: (value: T) => T): Record<string, T> => {
    const renames = new Map(
      steps
        // a primary key or unique constraint renames its index with it
        .filter(step => (step.kind === kind || (kind === 'index' && step.kind === 'constraint')) && (step.kind === 'index' || (step as { table: string }).table === table))
        .map(step => [(step as { from: string }).from, (step as { to: string }).to]),
    );
    const result: Record<string, T> = {};
    for (const [name, value] of Object.entries(record)) {
      const to = renames.get(name);
      const key = to !== undefined && !(to in record) ? to : name;
      result[key] = map(value);
    }
    return result;
  };

  const tableRenames = new Map(steps.filter(step => step.kind === 'table').map(step => [step.from, step.to]));
  const canonical: SchemaFingerprint = {};
  for (const [name, shape] of Object.entries(live)) {
    const to = tableRenames.get(name);
    const table = to !== undefined && !(to in live) ? to : name;
    const indexRenames = renameKeys(Object.fromEntries(shape.invalidIndexes.map(index => [index, index])), 'index', table, index => index);
    canonical[table] = {
      comment: shape.comment,
      columns: renameKeys(shape.columns, 'column', table, column => ({ ...column, default: column.default === null ? null : rewrite(column.default) })),
      constraints: renameKeys(shape.constraints, 'constraint', table, rewrite),
      indexes: renameKeys(shape.indexes, 'index', table, rewrite),
      invalidIndexes: Object.keys(indexRenames),
    };
  }
  return canonical;
}

// How the migration spells a new name in SQL (`"user"` is a reserved word), as pg_get_*def does.
function quoteLike(sql: string, name: string): string {
  return sql.includes(`"${name}"`) ? `"${name}"` : name;
}

function unquote(identifier: string): string {
  return identifier.startsWith('"') ? identifier.slice(1, -1).replace(/""/g, '"') : identifier;
}

// Indexes `after` has that `before` has not, with their tables.
function addedIndexes(before: SchemaFingerprint, after: SchemaFingerprint): Array<{ table: string; name: string }> {
  const added: Array<{ table: string; name: string }> = [];
  for (const [table, shape] of Object.entries(after)) {
    for (const name of Object.keys(shape.indexes)) {
      if (!before[table] || !(name in before[table].indexes)) added.push({ table, name });
    }
  }
  return added;
}
