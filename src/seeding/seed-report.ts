import type { ReferenceReport } from './reference-data.ts';
import type { CleanupSummary } from './seed-cleanup.ts';
import type { ScenarioSummary, SeedReporter, SeedSummary } from './seed-service.ts';

interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

const BAR_WIDTH = 30;

/**
 * Reports a seed run on a terminal: warnings and progress on stderr (a redrawn bar on a TTY, a
 * plain line every 10% otherwise, e.g. in CI logs), the summary and the demo login on stdout.
 */
export function consoleReporter(out: Output = process.stdout, err: Output = process.stderr): SeedReporter {
  const started = performance.now();
  let lastDecile = 0;
  return {
    warn(message) {
      const rule = '!'.repeat(78);
      err.write(`${rule}\nenerlink: WARNING: ${message}\n${rule}\n`);
    },
    progress(rowsDone, rowsTotal) {
      const share = rowsTotal === 0 ? 1 : rowsDone / rowsTotal;
      const rate = rowsDone / ((performance.now() - started) / 1000);
      if (err.isTTY) {
        const filled = Math.round(share * BAR_WIDTH);
        err.write(
          `\rseeding [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${percent(share)} ` +
            `${count(rowsDone)}/${count(rowsTotal)} rows, ${count(rate)} rows/s${rowsDone >= rowsTotal ? '\n' : ''}`,
        );
        return;
      }
      const decile = Math.floor(share * 10);
      // a run done in one step needs no progress line: the summary follows at once
      if (decile > lastDecile && rowsDone < rowsTotal) {
        err.write(`seeding: ${count(rowsDone)}/${count(rowsTotal)} rows (${percent(share)}), ${count(rate)} rows/s\n`);
      }
      lastDecile = decile;
    },
    completed(summary) {
      out.write(`${describeSummary(summary)}\n`);
      out.write(`Demo login: ${summary.demo.email} / ${summary.demo.password}\n`);
    },
  };
}

/** One line: what the fixture set holds, how much was new, and the pace. */
export function describeSummary(summary: SeedSummary): string {
  const tables = [
    `${count(summary.users)} users`,
    `${count(summary.wallets)} wallets`,
    `${count(summary.meters)} smart meters`,
    `${count(summary.settlements)} settlements`,
    `${count(summary.conversions)} conversions`,
    `${count(summary.offers)} offers`,
    ...(summary.trades > 0 ? [`${count(summary.trades)} trades`] : []),
    `${count(summary.transactionLogs)} transaction logs`,
  ];
  return (
    `Seeded ${tables.join(', ')} (seed ${summary.seed}): ${count(summary.rows)} rows, ${count(summary.inserted)} new, ` +
    `in ${(summary.durationMs / 1000).toFixed(1)} s (${count(summary.rowsPerSecond)} rows/s)`
  );
}

/** What a scenario holds, how much was new, and the login that shows it (two lines). */
export function describeScenario(summary: ScenarioSummary): string {
  const tables = summary.tables.map(({ label, rows }) => `${count(rows)} ${label}`).join(', ');
  return (
    `Seeded scenario ${summary.scenario} (seed ${summary.seed}): ${tables}; ${count(summary.rows)} rows, ${count(summary.inserted)} new, ` +
    `in ${(summary.durationMs / 1000).toFixed(1)} s\nLogin: ${summary.login.email} / ${summary.login.password} (${summary.shows})`
  );
}

/** What a cleanup removed, by table, and of which recorded runs. */
export function describeCleanup(summary: CleanupSummary): string {
  if (summary.runs.length === 0) return 'No fixtures recorded: nothing removed';
  const runs = summary.runs.map(run => `${run.scenario} (seed ${run.seed})`).join(', ');
  const tables = summary.tables.filter(t => t.rows > 0).map(({ label, rows }) => `${count(rows)} ${label}`);
  return `Removed the fixtures of ${runs}: ${tables.length > 0 ? tables.join(', ') : 'no rows left'} (${count(summary.rows)} rows) in ${(summary.durationMs / 1000).toFixed(1)} s`;
}

/** A reference run in one line, and the line that reports changed seeders (undefined when none changed). */
export function describeReferenceReport(report: ReferenceReport): { summary: string; changed?: string } {
  const summary = `Reference data: ${report.applied.length} applied, ${report.unchanged.length} already applied, ${report.changed.length} changed`;
  if (report.changed.length === 0) return { summary };
  const names = report.changed.map(({ name, appliedAt }) => `${name} (applied ${appliedAt.toISOString()})`).join(', ');
  return { summary, changed: `reference seeder(s) changed since they were applied, not run again: ${names}; put the change in a new reference seeder` };
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en');
}

function percent(share: number): string {
  return `${Math.floor(share * 100)}%`.padStart(4);
}
