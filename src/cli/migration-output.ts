import { relative } from 'node:path';
import { projectRoot } from '../orm-config.ts';
import type { LintFinding } from '../schema/migration-lint.ts';
import type { LintReport, MigrationPlanReport } from '../schema/migration-review.ts';

/** A finding as the commands print it: rule, file, statement, why, and the safe way. */
export function describeFinding(finding: LintFinding, indent = '  '): string {
  const where = finding.file ? relative(projectRoot, finding.file) : finding.migration;
  const head = finding.allowed === null ? `${finding.rule}` : `${finding.rule} (allowed: ${finding.allowed})`;
  const lines = [`${indent}${head} in ${where}${finding.direction === 'down' ? ' (down)' : ''}`];
  if (finding.statement) lines.push(`${indent}  statement: ${oneLine(finding.statement)}`);
  lines.push(`${indent}  why: ${finding.message}`);
  if (finding.allowed === null) lines.push(`${indent}  instead: ${finding.safe}`);
  return lines.join('\n');
}

/** The lint report: each migration's findings, then the count that fails the lint. */
export function describeLint(report: LintReport): string {
  const lines: string[] = [];
  for (const migration of report.migrations) {
    const failing = migration.findings.filter(f => f.allowed === null).length;
    const allowed = migration.findings.length - failing;
    lines.push(`${migration.name}: ${failing === 0 ? 'ok' : `${failing} finding(s)`}${allowed > 0 ? `, ${allowed} allowed` : ''}`);
    for (const finding of migration.findings) lines.push(describeFinding(finding));
  }
  lines.push('', report.failures === 0 ? `Lint passed: ${report.migrations.length} migration(s)` : `Lint FAILED: ${report.failures} finding(s) not allowed`);
  return `${lines.join('\n')}\n`;
}

/** The plan: per migration in order, its transaction, each statement with its locks, and its findings. */
export function describePlan(plan: MigrationPlanReport): string {
  const lines = [`Plan of migration ${plan.method}: ${plan.migrations.length} migration(s). Nothing was applied and no lock was taken.`];
  for (const step of plan.migrations) {
    const mode = step.action === 'adopt' ? 'adopted: recorded as applied, not run' : step.transactional ? 'in a transaction' : 'NOT in a transaction';
    lines.push('', `${step.name} (${step.action}, ${mode})`);
    if (step.statements.length === 0) lines.push('  (no statements)');
    for (const [index, statement] of step.statements.entries()) {
      lines.push(`  ${index + 1}. ${oneLine(statement.sql)}`);
      for (const lock of statement.locks) {
        const effects = [lock.rewrites && 'rewrites the table', lock.scans && 'scans it'].filter(Boolean).join(', ');
        const rows = lock.newTable ? 'new table' : lock.estimatedRows === null ? 'rows unknown (not there, or never analysed)' : `~${lock.estimatedRows} rows`;
        lines.push(`     ${lock.mode} on ${lock.table} (blocks ${lock.blocks}${effects ? `; ${effects}` : ''}; ${rows})`);
      }
      if (statement.locks.length === 0) lines.push(`     no table lock${statement.note ? `: ${statement.note}` : ''}`);
      else if (statement.note) lines.push(`     ${statement.note}`);
    }
    if (step.findings.length > 0) {
      lines.push('  lint:');
      for (const finding of step.findings) lines.push(describeFinding(finding, '    '));
    } else if (step.action !== 'adopt') {
      lines.push('  lint: ok');
    }
  }
  return `${lines.join('\n')}\n`;
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}
