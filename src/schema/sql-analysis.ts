// What a migration statement does to the tables it touches, read from PostgreSQL's own parse
// tree (libpg-query: the server's parser compiled to WASM, so what it accepts and how it reads
// it is what the server does), never from regular expressions over the SQL text.

/** A parse tree node as libpg-query returns it: `{ NodeType: { ...fields } }`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PgNode = Record<string, any>;

/** PostgreSQL's table lock modes, weakest first (https://www.postgresql.org/docs/current/explicit-locking.html). */
export const LOCK_MODES = [
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
] as const;
export type LockMode = (typeof LOCK_MODES)[number];

/** What live traffic cannot do while a lock of `mode` is held (or queued for). */
export function blockedBy(mode: LockMode): 'reads and writes' | 'writes' | 'other schema changes' | 'nothing' {
  const strength = LOCK_MODES.indexOf(mode);
  if (mode === 'ACCESS EXCLUSIVE') return 'reads and writes';
  if (strength >= LOCK_MODES.indexOf('SHARE')) return 'writes';
  if (mode === 'SHARE UPDATE EXCLUSIVE') return 'other schema changes';
  return 'nothing';
}

/** A lock a statement takes on a table (or index). */
export interface TableLock {
  table: string;
  mode: LockMode;
  /** The table is read whole (a scan) or written anew (a rewrite) under the lock. */
  rewrites: boolean;
  scans: boolean;
  /** Created by this statement: nobody else uses it yet. */
  created: boolean;
}

/** One statement of a migration, parsed. */
export interface AnalyzedStatement {
  sql: string;
  /** The parse tree's statement type (`AlterTableStmt`, `IndexStmt`, ...); `unparsable` if PostgreSQL's parser refuses it. */
  kind: string;
  node: PgNode | null;
  locks: TableLock[];
  /** Why the locks are not known (a DO block or a function runs code), or the parser's error. */
  note: string | null;
}

let parser: Promise<(sql: string) => Promise<{ stmts: Array<{ stmt: PgNode }> }>> | undefined;

/** PostgreSQL's parser; its WASM module loads once per process, on first use. */
function pgParse(): Promise<(sql: string) => Promise<{ stmts: Array<{ stmt: PgNode }> }>> {
  parser ??= import('libpg-query').then(module => module.parse as never);
  return parser;
}

/** Parses each SQL text (one may hold several statements) and says what each statement locks. */
export async function analyzeStatements(sqls: string[]): Promise<AnalyzedStatement[]> {
  const parse = await pgParse();
  const analyzed: AnalyzedStatement[] = [];
  for (const sql of sqls) {
    let stmts: Array<{ stmt: PgNode; stmt_location?: number; stmt_len?: number }>;
    try {
      stmts = (await parse(sql)).stmts ?? [];
    } catch (error) {
      analyzed.push({ sql, kind: 'unparsable', node: null, locks: [], note: `PostgreSQL's parser refuses it: ${(error as Error).message}` });
      continue;
    }
    for (const entry of stmts) {
      const text = stmts.length === 1 ? sql.trim() : sql.slice(entry.stmt_location ?? 0, (entry.stmt_location ?? 0) + (entry.stmt_len ?? sql.length)).trim();
      const [kind] = Object.keys(entry.stmt);
      analyzed.push({ sql: text, kind, node: entry.stmt[kind], ...locksOf(kind, entry.stmt[kind]) });
    }
  }
  return analyzed;
}

/** The unqualified name of a RangeVar (`public.wallet` and `wallet` are one table here). */
export function relationName(rangeVar: PgNode | undefined): string {
  return String(rangeVar?.relname ?? '?');
}

/** The names of a `List` of `String` nodes (`DROP TABLE a.b` -> ['a', 'b']). */
export function nameList(node: PgNode | undefined): string[] {
  const items: PgNode[] = node?.List?.items ?? (Array.isArray(node) ? node : []);
  return items.map(item => String(item.String?.sval ?? '?'));
}

const lock = (table: string, mode: LockMode, extra: Partial<TableLock> = {}): TableLock => ({ table, mode, rewrites: false, scans: false, created: false, ...extra });

function locksOf(kind: string, node: PgNode): { locks: TableLock[]; note: string | null } {
  switch (kind) {
    case 'CreateStmt': {
      const table = relationName(node.relation);
      const references = [...(node.tableElts ?? [])].flatMap((element: PgNode) => [
        ...(element.Constraint ? [element.Constraint] : []),
        ...(element.ColumnDef?.constraints ?? []).map((c: PgNode) => c.Constraint),
      ]);
      const referenced = references.filter(c => c?.contype === 'CONSTR_FOREIGN').map(c => relationName(c.pktable));
      return {
        locks: [lock(table, 'ACCESS EXCLUSIVE', { created: true }), ...[...new Set(referenced)].filter(t => t !== table).map(t => lock(t, 'SHARE ROW EXCLUSIVE'))],
        note: null,
      };
    }
    case 'IndexStmt':
      return { locks: [lock(relationName(node.relation), node.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', { scans: true })], note: null };
    case 'DropStmt': {
      const objects: PgNode[] = node.objects ?? [];
      const names = objects.map(object => nameList(object).at(-1)!);
      if (node.removeType === 'OBJECT_TABLE') return { locks: names.map(name => lock(name, 'ACCESS EXCLUSIVE')), note: null };
      if (node.removeType === 'OBJECT_INDEX') {
        // the index's table is locked too; which table that is, the statement does not say
        return { locks: names.map(name => lock(name, node.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE')), note: null };
      }
      return { locks: [], note: null };
    }
    case 'AlterTableStmt':
      return { locks: alterTableLocks(node), note: null };
    case 'RenameStmt': {
      const table = relationName(node.relation);
      if (node.renameType === 'OBJECT_INDEX') return { locks: [lock(table, 'SHARE UPDATE EXCLUSIVE')], note: null };
      if (['OBJECT_TABLE', 'OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT'].includes(node.renameType)) return { locks: [lock(table, 'ACCESS EXCLUSIVE')], note: null };
      return { locks: [], note: null };
    }
    case 'CommentStmt': {
      const names = nameList(node.object);
      if (node.objtype === 'OBJECT_TABLE') return { locks: [lock(names.at(-1)!, 'SHARE UPDATE EXCLUSIVE')], note: null };
      if (node.objtype === 'OBJECT_COLUMN') return { locks: [lock(names.at(-2)!, 'SHARE UPDATE EXCLUSIVE')], note: null };
      return { locks: [], note: null };
    }
    case 'TruncateStmt':
      return { locks: (node.relations ?? []).map((r: PgNode) => lock(relationName(r.RangeVar), 'ACCESS EXCLUSIVE')), note: null };
    case 'LockStmt': {
      const mode = LOCK_MODES[Math.max(0, Number(node.mode ?? 8) - 1)] ?? 'ACCESS EXCLUSIVE';
      return { locks: (node.relations ?? []).map((r: PgNode) => lock(relationName(r.RangeVar), mode)), note: null };
    }
    case 'UpdateStmt':
    case 'DeleteStmt':
      // every row the WHERE matches is read and written: its cost grows with the table
      return { locks: [lock(relationName(node.relation), 'ROW EXCLUSIVE', { scans: true })], note: null };
    case 'InsertStmt':
      return { locks: [lock(relationName(node.relation), 'ROW EXCLUSIVE', { scans: node.selectStmt?.SelectStmt?.fromClause !== undefined })], note: null };
    case 'CreateTrigStmt':
      return { locks: [lock(relationName(node.relation), 'SHARE ROW EXCLUSIVE')], note: null };
    case 'VacuumStmt':
      return { locks: (node.rels ?? []).map((r: PgNode) => lock(relationName(r.VacuumRelation?.relation), 'SHARE UPDATE EXCLUSIVE', { scans: true })), note: null };
    case 'DoStmt':
      return { locks: [], note: 'a DO block runs code: what it locks is known only when it runs' };
    case 'SelectStmt':
      return { locks: [], note: (node.fromClause ?? []).length > 0 ? 'reads rows (ACCESS SHARE on what it reads)' : null };
    default:
      return { locks: [], note: null };
  }
}

// The strongest lock of an ALTER TABLE's subcommands, and whether any of them scans or rewrites.
function alterTableLocks(node: PgNode): TableLock[] {
  const table = relationName(node.relation);
  let mode: LockMode = 'ACCESS SHARE';
  let rewrites = false;
  let scans = false;
  const others: TableLock[] = [];
  const raise = (to: LockMode) => void (LOCK_MODES.indexOf(to) > LOCK_MODES.indexOf(mode) && (mode = to));
  for (const { AlterTableCmd: cmd } of (node.cmds ?? []) as PgNode[]) {
    if (!cmd) continue;
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        raise('ACCESS EXCLUSIVE');
        const column = cmd.def?.ColumnDef ?? {};
        const constraints: PgNode[] = (column.constraints ?? []).map((c: PgNode) => c.Constraint);
        const fallback = constraints.find(c => c?.contype === 'CONSTR_DEFAULT');
        if (fallback && isVolatile(fallback.raw_expr)) rewrites = true;
        if (isSerialType(column.typeName) || constraints.some(c => c?.contype === 'CONSTR_IDENTITY' || c?.contype === 'CONSTR_GENERATED')) rewrites = true;
        if (constraints.some(c => (c?.contype === 'CONSTR_CHECK' || c?.contype === 'CONSTR_FOREIGN') && !c.skip_validation)) scans = true;
        for (const c of constraints.filter(c => c?.contype === 'CONSTR_FOREIGN')) others.push(lock(relationName(c.pktable), 'SHARE ROW EXCLUSIVE'));
        break;
      }
      case 'AT_AlterColumnType':
        raise('ACCESS EXCLUSIVE');
        rewrites = true; // unless binary-coercible (varchar(n) widened, varchar to text)
        break;
      case 'AT_SetNotNull':
        raise('ACCESS EXCLUSIVE');
        scans = true; // unless a valid CHECK (col IS NOT NULL) proves it (PostgreSQL 12+)
        break;
      case 'AT_AddConstraint': {
        const constraint = cmd.def?.Constraint ?? {};
        if (constraint.contype === 'CONSTR_FOREIGN') {
          raise('SHARE ROW EXCLUSIVE');
          others.push(lock(relationName(constraint.pktable), 'SHARE ROW EXCLUSIVE'));
          if (!constraint.skip_validation) scans = true;
        } else {
          raise('ACCESS EXCLUSIVE');
          if (constraint.contype === 'CONSTR_CHECK' && !constraint.skip_validation) scans = true;
          if (['CONSTR_UNIQUE', 'CONSTR_PRIMARY', 'CONSTR_EXCLUSION'].includes(constraint.contype) && !constraint.indexname) scans = true;
        }
        break;
      }
      case 'AT_ValidateConstraint':
        raise('SHARE UPDATE EXCLUSIVE');
        scans = true;
        break;
      case 'AT_SetStatistics':
      case 'AT_ClusterOn':
      case 'AT_DropCluster':
      case 'AT_SetRelOptions':
      case 'AT_ResetRelOptions':
      case 'AT_DetachPartitionFinalize':
        raise('SHARE UPDATE EXCLUSIVE');
        break;
      case 'AT_DetachPartition':
        raise(cmd.def?.PartitionCmd?.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE');
        break;
      case 'AT_EnableTrig':
      case 'AT_DisableTrig':
      case 'AT_EnableTrigAll':
      case 'AT_DisableTrigAll':
      case 'AT_EnableTrigUser':
      case 'AT_DisableTrigUser':
        raise('SHARE ROW EXCLUSIVE');
        break;
      case 'AT_SetLogged':
      case 'AT_SetUnLogged':
      case 'AT_SetAccessMethod':
      case 'AT_SetTableSpace':
        raise('ACCESS EXCLUSIVE');
        rewrites = true;
        break;
      default:
        // DROP COLUMN, SET/DROP DEFAULT, DROP NOT NULL, DROP CONSTRAINT, and what is not listed above
        raise('ACCESS EXCLUSIVE');
    }
  }
  return [lock(table, mode, { rewrites, scans }), ...others];
}

/**
 * Functions whose default value differs row by row, so that adding a column with one rewrites
 * the table (a constant or STABLE default such as now() does not, since PostgreSQL 11).
 */
const VOLATILE_FUNCTIONS = new Set(['random', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'clock_timestamp', 'timeofday', 'nextval', 'txid_current', 'uuidv7']);

/** Whether an expression calls a function of VOLATILE_FUNCTIONS anywhere inside. */
export function isVolatile(expression: unknown): boolean {
  if (!expression || typeof expression !== 'object') return false;
  const call = (expression as PgNode).FuncCall;
  if (call && VOLATILE_FUNCTIONS.has(nameList(call.funcname).at(-1)!.toLowerCase())) return true;
  return Object.values(expression as PgNode).some(value => (Array.isArray(value) ? value.some(isVolatile) : isVolatile(value)));
}

/** serial types are an integer with a nextval() default: volatile. */
export function isSerialType(typeName: PgNode | undefined): boolean {
  return ['serial', 'bigserial', 'smallserial', 'serial4', 'serial8', 'serial2'].includes(nameList(typeName?.names).at(-1) ?? '');
}
