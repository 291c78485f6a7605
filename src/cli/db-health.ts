// npm run db:health [-- --older-than-ms N]: what GET /admin/db/health answers, as tables:
// sizes, index use, the slowest statements, connections, and what would block a migration
// now. Reads statistics views only; takes no lock.
import { parseArgs } from 'node:util';
import { DEFAULT_LONG_TRANSACTION_MS, readDbHealth, type DbHealth } from '../admin/db-health.ts';
import { loadConfigOrExit } from '../config.ts';
import { createOrm } from '../orm.ts';
import { exitOnFailure } from './errors.ts';

const USAGE = 'usage: npm run db:health [-- --older-than-ms <milliseconds>]';

const config = loadConfigOrExit();

let olderThanMs = DEFAULT_LONG_TRANSACTION_MS;
try {
  const { values } = parseArgs({ options: { 'older-than-ms': { type: 'string' } }, allowPositionals: false, strict: true });
  const given = values['older-than-ms'];
  if (given !== undefined) {
    if (!/^\d{1,8}$/.test(given) || Number(given) > 86_400_000) throw new Error(`--older-than-ms must be a whole number of milliseconds from 0 to 86400000, got ${JSON.stringify(given)}`);
    olderThanMs = Number(given);
  }
} catch (error) {
  process.stderr.write(`enerlink: ${(error as Error).message.split('\n')[0]}; ${USAGE}\n`);
  process.exit(1);
}

const health = await exitOnFailure(async () => {
  const orm = await createOrm(config, { migrations: { silent: true } });
  try {
    await orm.connect();
    const connection = orm.em.getConnection();
    return await readDbHealth((sql, params) => connection.execute(sql, params), { olderThanMs });
  } finally {
    await orm.close();
  }
});
console.log(render(health));

/** The report as an operator reads it in a terminal: blockers first, then the rest. */
function render(report: DbHealth): string {
  const out: string[] = [`${report.database} at ${report.checkedAt.toISOString()}`];
  const { sessions } = report.blocking;
  out.push('', `What would block a migration now (transactions older than ${report.blocking.olderThanMs} ms, sessions idle in transaction): ${sessions.length || 'nothing'}`);
  if (sessions.length > 0) {
    out.push(
      table(
        ['pid', 'state', 'age', 'application', 'client', 'locks', 'waiting for', 'query'],
        sessions.map(s => [
          s.pid,
          s.state ?? '',
          `${(s.transactionAgeMs / 1000).toFixed(1)} s`,
          s.application ?? '',
          s.clientAddress ?? '',
          s.locks.map(lock => `${lock.table} ${lock.mode}${lock.granted ? '' : ' (waiting)'}`).join(', ') || '-',
          s.waitingFor.join(', ') || '-',
          oneLine(s.query, 60),
        ]),
      ),
    );
  }
  out.push('', 'Tables');
  out.push(
    table(
      ['table', 'rows (est.)', 'total', 'data', 'indexes', 'seq scans', 'idx scans', 'dead rows'],
      report.tables.map(t => [t.table, t.rowEstimate, bytes(t.totalBytes), bytes(t.tableBytes), bytes(t.indexBytes), t.sequentialScans, t.indexScans, t.deadRows]),
    ),
  );
  out.push('', `Indexes (scans since ${report.statisticsSince?.toISOString() ?? 'the database was created'})`);
  out.push(table(['index', 'table', 'size', 'scans', ''], report.indexes.map(i => [i.index, i.table, bytes(i.bytes), i.scans, i.unused ? 'UNUSED' : i.unique ? 'unique' : ''])));
  out.push(`Unused indexes: ${report.unusedIndexes.join(', ') || 'none'}`);
  out.push('', 'Slowest statements (pg_stat_statements)');
  const statements = report.slowStatements;
  if (statements.available) {
    out.push(
      statements.statements.length === 0
        ? 'none recorded yet'
        : table(['mean ms', 'max ms', 'calls', 'total ms', 'rows', 'query'], statements.statements.map(s => [s.meanMs, s.maxMs, s.calls, s.totalMs, s.rows, oneLine(s.query, 80)])),
    );
  } else {
    out.push(`not available: ${statements.reason}`, `to enable it: ${statements.howToEnable}`);
  }
  const { connections } = report;
  out.push('', `Connections: ${connections.server} of max_connections ${connections.maxConnections} on the server; to ${report.database}:`);
  out.push(table(['state', 'count'], connections.byState.map(c => [c.state, c.count])));
  return out.join('\n');
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map(row => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map(row => row[column].length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every(row => typeof row[column] === 'number'));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map(width => '-'.repeat(width)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function bytes(count: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
