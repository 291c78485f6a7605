import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Migration } from '@mikro-orm/migrations';
import type { QueryRunner } from '../db/query-runner.ts';
import { UnknownMigrationError } from './migration-errors.ts';
import type { MigrationIntegrity } from './migration-integrity.ts';
import { lintMigration, type LintFinding, type LintSubject } from './migration-lint.ts';
import type { MigrationSource } from './migration-plan.ts';
import type { DryRunReport, DryRunStep } from './migration-runner.ts';
import { analyzeStatements, blockedBy, type TableLock } from './sql-analysis.ts';

/** A lock of a planned statement, with what it blocks and the table's estimated rows. */
export interface PlannedLock extends TableLock {
  blocks: ReturnType<typeof blockedBy>;
  /** Created by this statement or an earlier one of the plan: nobody uses it yet. */
  newTable: boolean;
  /** pg_class.reltuples (0 for a new table); null when the table is not there or was never analysed. */
  estimatedRows: number | null;
}

/** One statement of a plan. */
export interface PlannedStatement {
  sql: string;
  kind: string;
  locks: PlannedLock[];
  note: string | null;
}

/** One migration of a plan: the dry run's step, each statement analysed, and the lint findings. */
export interface PlanStep extends DryRunStep {
  statements: PlannedStatement[];
  findings: LintFinding[];
}

/** What `migration:plan` and the admin dry run show. */
export interface MigrationPlanReport extends Omit<DryRunReport, 'migrations'> {
  migrations: PlanStep[];
}

/** The lint of every migration (or those named). */
export interface LintReport {
  migrations: Array<{ name: string; file: string | null; findings: LintFinding[] }>;
  /** Findings no annotation allows: `migration:lint` exits 1. */
  failures: number;
}

/**
 * Reviews migrations before they run: the lint of their SQL on PostgreSQL's parser, and the
 * plan of a run (each statement's locks, rewrites and scans, each table's estimated rows).
 * Reads the SQL as the checksums do (MigrationIntegrity.contentsOf); takes no lock.
 */
export class MigrationReview {
  readonly #source: MigrationSource;
  readonly #integrity: MigrationIntegrity;
  readonly #query: QueryRunner;

  constructor(source: MigrationSource, integrity: MigrationIntegrity, query: QueryRunner) {
    this.#source = source;
    this.#integrity = integrity;
    this.#query = query;
  }

  /** What the lint reads of each named migration. */
  async subjects(names: string[]): Promise<Map<string, LintSubject>> {
    const known = new Map((await this.#source.known()).map(m => [m.name, m.path ?? null]));
    const contents = await this.#integrity.contentsOf(names);
    const subjects = new Map<string, LintSubject>();
    for (const name of names) {
      const file = known.get(name) ?? null;
      const source = file ? await readFile(file, 'utf8').catch(() => null) : null;
      subjects.set(name, { name, file, source, ...contents.get(name)! });
    }
    return subjects;
  }

  /** Lints every migration of this release, or those named (names, file names or versions). */
  async lint(names?: string[]): Promise<LintReport> {
    const known = (await this.#source.known()).map(m => m.name);
    const selected = names && names.length > 0 ? names.map(name => resolve(name, known)) : known;
    const subjects = await this.subjects(selected);
    const migrations = [];
    for (const name of selected) {
      const subject = subjects.get(name)!;
      migrations.push({ name, file: subject.file, findings: await lintMigration(subject, 'up') });
    }
    return { migrations, failures: migrations.flatMap(m => m.findings).filter(f => f.allowed === null).length };
  }

  /** Lints one migration file wherever it is (`migration:create` lints the file it wrote). */
  async lintFile(file: string, load: () => Promise<Migration>): Promise<LintReport> {
    const name = basename(file).replace(/\.[jt]s$/, '');
    const subject: LintSubject = { name, file, source: await readFile(file, 'utf8'), ...(await this.#integrity.contentOfMigration(load)) };
    const findings = await lintMigration(subject, 'up');
    return { migrations: [{ name, file, findings }], failures: findings.filter(f => f.allowed === null).length };
  }

  /** A dry run with each statement's locks and each migration's findings. */
  async plan(dryRun: DryRunReport): Promise<MigrationPlanReport> {
    const runs = dryRun.migrations.filter(step => step.action !== 'adopt').map(step => step.name);
    const subjects = await this.subjects(runs);
    const analyzed = await Promise.all(dryRun.migrations.map(step => analyzeStatements(step.sql)));
    const rows = await this.#estimatedRows([...new Set(analyzed.flat().flatMap(s => s.locks.map(l => l.table)))]);
    // tables the plan creates are new to it; a table it renames keeps its rows under the new name
    const created = new Set<string>();
    const renamedFrom = new Map<string, string>();
    const migrations: PlanStep[] = [];
    for (const [index, step] of dryRun.migrations.entries()) {
      const statements = analyzed[index];
      const subject = subjects.get(step.name);
      const findings = subject ? await lintMigration(subject, dryRun.method, statements) : [];
      const planned: PlannedStatement[] = [];
      for (const { sql, kind, node, locks, note } of statements) {
        planned.push({
          sql,
          kind,
          note,
          locks: locks.map(l => {
            const newTable = l.created || created.has(l.table);
            const estimatedRows = newTable ? 0 : (rows.get(renamedFrom.get(l.table) ?? l.table) ?? null);
            return { ...l, blocks: blockedBy(l.mode), newTable, estimatedRows };
          }),
        });
        for (const l of locks) if (l.created) created.add(l.table);
        if (kind === 'RenameStmt' && node?.renameType === 'OBJECT_TABLE') {
          const from = String(node.relation?.relname);
          if (created.has(from)) created.add(String(node.newname));
          else renamedFrom.set(String(node.newname), renamedFrom.get(from) ?? from);
        }
      }
      migrations.push({ ...step, statements: planned, findings });
    }
    return { ...dryRun, migrations };
  }

  // PostgreSQL's own estimate (pg_class.reltuples, kept by ANALYZE and autovacuum): no table is read
  async #estimatedRows(tables: string[]): Promise<Map<string, number>> {
    if (tables.length === 0) return new Map();
    const rows = await this.#query(
      `select c.relname, c.reltuples::float8 as rows from pg_class c
        where c.relnamespace = current_schema()::regnamespace and c.relname in (${tables.map(() => '?').join(', ')}) and c.reltuples >= 0`,
      tables,
    );
    return new Map(rows.map(row => [row.relname, Math.round(Number(row.rows))]));
  }
}

function resolve(name: string, known: string[]): string {
  const bare = name.replace(/^.*\//, '').replace(/\.[jt]s$/, '');
  const found = known.find(k => k === bare) ?? (/^\d{14}$/.test(bare) ? known.find(k => k.startsWith(`Migration${bare}`)) : undefined);
  if (!found) throw new UnknownMigrationError(name);
  return found;
}

