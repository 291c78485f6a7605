import { analyzeStatements, isSerialType, isVolatile, LOCK_MODES, nameList, relationName, type AnalyzedStatement, type PgNode } from './sql-analysis.ts';

/** A lint rule: why the operation is unsafe on a live database, the safe way, and its anchors elsewhere. */
export interface LintRule {
  why: string;
  safe: string;
  /** The same check in squawk, strong_migrations and Atlas (`—`: none of that name). */
  anchors: { squawk: string; strongMigrations: string; atlas: string };
}

/** Every rule, by name (the name a `lint-ignore` annotation gives). */
export const LINT_RULES = {
  'index-not-concurrent': {
    why: 'CREATE INDEX holds a SHARE lock (DROP INDEX an ACCESS EXCLUSIVE one) on the table for the whole build: every write waits',
    safe: 'CREATE INDEX CONCURRENTLY / DROP INDEX CONCURRENTLY, in a migration of its own with isTransactional() returning false',
    anchors: { squawk: 'require-concurrent-index-creation, require-concurrent-index-deletion', strongMigrations: 'Adding an index non-concurrently', atlas: 'PG101, PG102' },
  },
  'concurrently-in-transaction': {
    why: 'CONCURRENTLY cannot run inside a transaction block: PostgreSQL refuses the migration when it runs',
    safe: 'put the statement in a migration of its own whose isTransactional() returns false',
    anchors: { squawk: 'ban-concurrent-index-creation-in-transaction', strongMigrations: 'disable_ddl_transaction!', atlas: 'PG103' },
  },
  'add-column-not-null-without-default': {
    why: 'ADD COLUMN ... NOT NULL without a default fails on a table that has rows, and running code that inserts without the column fails after it',
    safe: 'add the column nullable (or with a constant default), backfill in batches, then add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, SET NOT NULL',
    anchors: { squawk: 'adding-required-field', strongMigrations: 'Adding a column with a default value (NOT NULL)', atlas: 'MF103' },
  },
  'add-column-volatile-default': {
    why: 'a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval() of a serial) rewrites the whole table under an ACCESS EXCLUSIVE lock',
    safe: 'add the column without a default, then SET DEFAULT (it applies to new rows only) and backfill existing rows in batches',
    anchors: { squawk: 'adding-field-with-default, adding-serial-primary-key-field', strongMigrations: 'Adding a column with a volatile default value', atlas: '— (PG3xx table rewrite)' },
  },
  'constraint-not-valid': {
    why: 'a FOREIGN KEY or CHECK added without NOT VALID checks every row while it holds its lock (SHARE ROW EXCLUSIVE on both tables for a foreign key, ACCESS EXCLUSIVE for a CHECK)',
    safe: 'ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration (it takes only SHARE UPDATE EXCLUSIVE)',
    anchors: { squawk: 'adding-foreign-key-constraint, constraint-missing-not-valid', strongMigrations: 'Adding a foreign key, Adding a check constraint', atlas: '—' },
  },
  'set-not-null': {
    why: 'SET NOT NULL on an existing column reads the whole table under an ACCESS EXCLUSIVE lock',
    safe: 'ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID in one migration; in the next, VALIDATE CONSTRAINT, then SET NOT NULL (PostgreSQL 12+ uses the validated check and skips the scan) and drop the check',
    anchors: { squawk: 'adding-not-nullable-field', strongMigrations: 'Setting NOT NULL on an existing column', atlas: 'MF104' },
  },
  'column-type-change': {
    why: 'changing a column\'s type rewrites the table and its indexes under an ACCESS EXCLUSIVE lock (unless the change is binary-coercible, such as widening a varchar)',
    safe: 'add a column of the new type, write both, backfill in batches, switch reads, drop the old column in a later release; allow a binary-coercible change with a reason',
    anchors: { squawk: 'changing-column-type', strongMigrations: 'Changing the type of a column', atlas: '— (PG3xx table rewrite)' },
  },
  'drop-table': {
    why: 'DROP TABLE destroys its rows; code of the running release that still reads it fails',
    safe: 'stop using the table in a release first, take a backup, then drop it in a later release',
    anchors: { squawk: 'ban-drop-table', strongMigrations: '—', atlas: 'DS102' },
  },
  'drop-column': {
    why: 'DROP COLUMN destroys its values; code of the running release that still reads or writes it fails',
    safe: 'stop using the column in a release first (MikroORM: remove it from the entity), then drop it in a later release',
    anchors: { squawk: 'ban-drop-column', strongMigrations: 'Removing a column', atlas: 'DS103' },
  },
  'rename-table': {
    why: 'renaming a table breaks the running release\'s queries the moment it commits (a rolling deploy runs both releases)',
    safe: 'create the new table (or a view under the new name), write to both, backfill, switch reads, drop the old one later',
    anchors: { squawk: 'renaming-table', strongMigrations: 'Renaming a table', atlas: 'BC101' },
  },
  'rename-column': {
    why: 'renaming a column breaks the running release\'s queries the moment it commits (a rolling deploy runs both releases)',
    safe: 'add the new column, write to both, backfill, switch reads, drop the old column in a later release',
    anchors: { squawk: 'renaming-column', strongMigrations: 'Renaming a column', atlas: 'BC102' },
  },
  'unique-constraint-without-index': {
    why: 'ADD CONSTRAINT ... UNIQUE (or PRIMARY KEY) builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait for the whole build',
    safe: 'CREATE UNIQUE INDEX CONCURRENTLY (a non-transactional migration), then ADD CONSTRAINT ... UNIQUE USING INDEX',
    anchors: { squawk: 'disallowed-unique-constraint', strongMigrations: 'Adding a unique constraint', atlas: 'MF101 (data-dependent)' },
  },
  'missing-lock-timeout': {
    why: 'a lock that waits behind a long transaction queues every later query on the table behind it; enerlink\'s runner sets lock_timeout per batch, but this SQL run any other way (psql, a bare MikroORM) waits forever',
    safe: 'begin the migration with this.addSql("set local lock_timeout = \'5s\'") (and retry it when it times out)',
    anchors: { squawk: 'require-timeout-settings', strongMigrations: 'lock_timeout (StrongMigrations.lock_timeout)', atlas: '—' },
  },
  'missing-down': {
    why: 'a migration without down() cannot be reverted: migration:down, the admin API and a failed deploy\'s rollback stop at it',
    safe: 'write a down() that undoes up(); if it truly cannot be undone, allow it with the reason',
    anchors: { squawk: '—', strongMigrations: '— (Rails: irreversible migrations)', atlas: '— (Flyway: undo migrations)' },
  },
  'unparsable-statement': {
    why: 'PostgreSQL\'s parser refuses the statement: the migration fails when it runs',
    safe: 'fix the SQL',
    anchors: { squawk: '—', strongMigrations: '—', atlas: '—' },
  },
  'lint-ignore-invalid': {
    why: 'a lint-ignore annotation must name a rule and give a reason, or it silences nothing',
    safe: 'write it as: // lint-ignore <rule>: <reason>',
    anchors: { squawk: '— (squawk-ignore)', strongMigrations: '— (safety_assured)', atlas: '— (atlas:nolint)' },
  },
} as const satisfies Record<string, LintRule>;

export type LintRuleName = keyof typeof LINT_RULES;

/** Rules that an annotation cannot silence: the SQL fails or the annotation is broken. */
const UNSILENCEABLE: ReadonlySet<LintRuleName> = new Set(['concurrently-in-transaction', 'unparsable-statement', 'lint-ignore-invalid']);

/** One finding: the rule, where, what is unsafe about it and the safe way. */
export interface LintFinding {
  rule: LintRuleName;
  migration: string;
  file: string | null;
  direction: 'up' | 'down';
  /** The statement, as the migration builds it; null for findings about the whole migration. */
  statement: string | null;
  message: string;
  safe: string;
  /** The reason of the `lint-ignore` annotation that allows it; null: it is not allowed. */
  allowed: string | null;
}

/** What the lint reads of a migration: what it runs (as the checksum covers it) and its source text. */
export interface LintSubject {
  name: string;
  file: string | null;
  /** The migration's source text, for its `lint-ignore` annotations. */
  source: string | null;
  transactional: boolean;
  up: string[];
  down: string[] | null;
}

/**
 * The findings of a migration. `up` is linted whole; `down` (a plan of a revert) for the
 * statements it runs, since dropping what `up` created is its purpose and named, not refused.
 * `statements`: the direction's statements already analysed (the plan has them).
 */
export async function lintMigration(subject: LintSubject, direction: 'up' | 'down' = 'up', statements?: AnalyzedStatement[]): Promise<LintFinding[]> {
  const analyzed = statements ?? (await analyzeStatements(direction === 'up' ? subject.up : (subject.down ?? [])));
  const { annotations, findings: annotationFindings } = annotationsOf(subject);
  const raw: Array<{ rule: LintRuleName; statement: string | null; detail: string }> = [];
  const created = new Set<string>();
  const validated = new Set<string>();
  let lockTimeout = false;
  let flaggedLockTimeout = false;
  const existing = (table: string) => !created.has(table);

  for (const statement of analyzed) {
    const { node, kind, sql } = statement;
    const flag = (rule: LintRuleName, detail: string) => raw.push({ rule, statement: sql, detail });
    if (kind === 'unparsable') flag('unparsable-statement', statement.note ?? '');
    if (kind === 'VariableSetStmt' && node?.name === 'lock_timeout') lockTimeout = true;

    const concurrent = (kind === 'IndexStmt' || kind === 'DropStmt' || kind === 'ReindexStmt') && isConcurrent(node);
    if (concurrent && subject.transactional) flag('concurrently-in-transaction', 'CONCURRENTLY in a transactional migration');
    if (kind === 'IndexStmt' && !node?.concurrent && existing(relationName(node?.relation))) {
      flag('index-not-concurrent', `CREATE INDEX on ${relationName(node?.relation)} without CONCURRENTLY`);
    }
    if (kind === 'DropStmt' && node?.removeType === 'OBJECT_INDEX' && !node.concurrent) {
      const names = (node.objects ?? []).map((o: PgNode) => nameList(o).at(-1));
      if (names.some((name: string) => !created.has(`index:${name}`))) flag('index-not-concurrent', `DROP INDEX ${names.join(', ')} without CONCURRENTLY`);
    }
    if (kind === 'DropStmt' && node?.removeType === 'OBJECT_TABLE') {
      for (const name of (node.objects ?? []).map((o: PgNode) => nameList(o).at(-1)!)) if (existing(name)) flag('drop-table', `DROP TABLE ${name}`);
    }
    if (kind === 'RenameStmt' && node?.renameType === 'OBJECT_TABLE') flag('rename-table', `table ${relationName(node.relation)} renamed to ${node.newname}`);
    if (kind === 'RenameStmt' && node?.renameType === 'OBJECT_COLUMN') flag('rename-column', `column ${relationName(node.relation)}.${node.subname} renamed to ${node.newname}`);
    if (kind === 'AlterTableStmt') {
      const table = relationName(node?.relation);
      if (existing(table)) {
        for (const { AlterTableCmd: cmd } of (node?.cmds ?? []) as PgNode[]) {
          if (!cmd) continue;
          lintAlterTableCommand(table, cmd, flag, validated);
          if (cmd.subtype === 'AT_ValidateConstraint') validated.add(table);
        }
      }
    }
    // the lock_timeout rule: a transactional migration that makes traffic wait behind its lock
    if (subject.transactional && !lockTimeout && !flaggedLockTimeout) {
      const blocking = statement.locks.find(l => !l.created && existing(l.table) && LOCK_MODES.indexOf(l.mode) >= LOCK_MODES.indexOf('SHARE'));
      if (blocking) {
        flaggedLockTimeout = true;
        flag('missing-lock-timeout', `${blocking.mode} on ${blocking.table} with no lock_timeout set by the migration`);
      }
    }
    if (kind === 'CreateStmt') created.add(relationName(node?.relation));
    if (kind === 'IndexStmt' && node?.idxname) created.add(`index:${node.idxname}`);
  }
  if (direction === 'up' && (subject.down === null || subject.down.length === 0)) {
    raw.push({ rule: 'missing-down', statement: null, detail: subject.down === null ? 'no down()' : 'down() runs nothing' });
  }

  const findings: LintFinding[] = raw.map(({ rule, statement, detail }) => ({
    rule,
    migration: subject.name,
    file: subject.file,
    direction,
    statement,
    message: `${detail}: ${LINT_RULES[rule].why}`,
    safe: LINT_RULES[rule].safe,
    allowed: UNSILENCEABLE.has(rule) ? null : (annotations.get(rule) ?? null),
  }));
  return [...findings, ...annotationFindings];
}

// The subcommand rules of an ALTER TABLE on a table that existed before this migration.
function lintAlterTableCommand(table: string, cmd: PgNode, flag: (rule: LintRuleName, detail: string) => void, validated: ReadonlySet<string>): void {
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      const column = cmd.def?.ColumnDef ?? {};
      const constraints: PgNode[] = (column.constraints ?? []).map((c: PgNode) => c.Constraint).filter(Boolean);
      const fallback = constraints.find(c => c.contype === 'CONSTR_DEFAULT');
      const generated = constraints.some(c => c.contype === 'CONSTR_IDENTITY' || c.contype === 'CONSTR_GENERATED') || isSerialType(column.typeName);
      if (constraints.some(c => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY') && !fallback && !generated) {
        flag('add-column-not-null-without-default', `column ${table}.${column.colname} added NOT NULL without a default`);
      }
      if ((fallback && isVolatile(fallback.raw_expr)) || generated) {
        flag('add-column-volatile-default', `column ${table}.${column.colname} added with a volatile default`);
      }
      for (const c of constraints.filter(c => (c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation)) {
        flag('constraint-not-valid', `${c.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK'} on the new column ${table}.${column.colname}, validated as it is added`);
      }
      if (constraints.some(c => c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY')) {
        flag('unique-constraint-without-index', `UNIQUE on the new column ${table}.${column.colname}`);
      }
      return;
    }
    case 'AT_AlterColumnType':
      flag('column-type-change', `column ${table}.${cmd.name} changes type`);
      return;
    case 'AT_SetNotNull':
      // after VALIDATE CONSTRAINT of a CHECK (col IS NOT NULL), PostgreSQL 12+ sets it without a scan
      if (!validated.has(table)) flag('set-not-null', `column ${table}.${cmd.name} SET NOT NULL`);
      return;
    case 'AT_DropColumn':
      flag('drop-column', `column ${table}.${cmd.name} dropped`);
      return;
    case 'AT_AddConstraint': {
      const constraint = cmd.def?.Constraint ?? {};
      const name = constraint.conname ? ` ${constraint.conname}` : '';
      if ((constraint.contype === 'CONSTR_FOREIGN' || constraint.contype === 'CONSTR_CHECK') && !constraint.skip_validation) {
        flag('constraint-not-valid', `${constraint.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK'}${name} on ${table} without NOT VALID`);
      }
      if ((constraint.contype === 'CONSTR_UNIQUE' || constraint.contype === 'CONSTR_PRIMARY') && !constraint.indexname) {
        flag('unique-constraint-without-index', `${constraint.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY'}${name} on ${table} not built from an index`);
      }
    }
  }
}

function isConcurrent(node: PgNode | null): boolean {
  return Boolean(node?.concurrent || (node?.params ?? []).some((p: PgNode) => p.DefElem?.defname === 'concurrently'));
}

const ANNOTATION = /lint-ignore\s+([A-Za-z0-9_-]+)\s*(?::\s*(.*?))?\s*(?:\*\/)?$/gm;

/** The migration's `lint-ignore <rule>: <reason>` annotations; a broken one is a finding of its own. */
function annotationsOf(subject: LintSubject): { annotations: Map<LintRuleName, string>; findings: LintFinding[] } {
  const annotations = new Map<LintRuleName, string>();
  const findings: LintFinding[] = [];
  for (const [, rule, reason] of (subject.source ?? '').matchAll(ANNOTATION)) {
    const problem = !Object.hasOwn(LINT_RULES, rule) ? `lint-ignore names no rule: ${rule}` : !reason?.trim() ? `lint-ignore ${rule} gives no reason` : null;
    if (problem) {
      findings.push({
        rule: 'lint-ignore-invalid',
        migration: subject.name,
        file: subject.file,
        direction: 'up',
        statement: null,
        message: `${problem}: ${LINT_RULES['lint-ignore-invalid'].why}`,
        safe: LINT_RULES['lint-ignore-invalid'].safe,
        allowed: null,
      });
    } else {
      annotations.set(rule as LintRuleName, reason.trim());
    }
  }
  return { annotations, findings };
}
