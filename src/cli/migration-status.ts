// npm run migration:status [-- --json]: every migration with its state: applied (when, how
// long, by whom), pending, edited, missing, unknown; and the last failed run. Exit code 0 when
// clean, 1 when something is pending, 2 when something is edited or missing. Takes no lock.
import { loadConfigOrExit } from '../config.ts';
import type { MigrationState, MigrationStates } from '../schema/migration-states.ts';
import { argumentsOrExit, parseCommandArguments } from './command-arguments.ts';
import { exitOnFailure } from './errors.ts';
import { withMigrationCommand } from './migration-command.ts';

const USAGE = 'usage: npm run migration:status [-- --json]';

const config = loadConfigOrExit();
const { values } = argumentsOrExit(() => parseCommandArguments(process.argv.slice(2), { json: { type: 'boolean' } }, USAGE));
const states = await exitOnFailure(() => withMigrationCommand(config, lifecycle => lifecycle.states()));
process.stdout.write(values.json ? `${JSON.stringify(states, null, 2)}\n` : describeStates(states));
process.exit(states.exitCode);

function describeStates({ migrations, lastFailedRun }: MigrationStates): string {
  const width = Math.max(...migrations.map(m => m.name.length), 0);
  const lines = migrations.map(m => `${m.name.padEnd(width)}  ${m.state.padEnd(7)}  ${describeState(m)}`.trimEnd());
  const counts = ['applied', 'pending', 'edited', 'missing', 'unknown'].map(state => `${migrations.filter(m => m.state === state).length} ${state}`);
  lines.push('', counts.join(', '));
  if (lastFailedRun) {
    lines.push(
      `Last failed run: ${lastFailedRun.method} from ${lastFailedRun.origin ?? 'an unrecorded origin'} on ${lastFailedRun.host} (pid ${lastFailedRun.pid}) at ${lastFailedRun.startedAt}: ${lastFailedRun.error ?? 'no error recorded'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function describeState(m: MigrationState): string {
  if (m.state === 'pending') return '';
  const parts = [m.appliedAt ?? ''];
  if (m.durationMs !== null) parts.push(`${m.durationMs} ms`);
  const by = m.appliedBy;
  if (by?.how === 'run') parts.push(`by ${by.origin ?? 'an unrecorded origin'} on ${by.host} (pid ${by.pid})`);
  else if (by?.how === 'adoption') parts.push(`adopted by ${by.origin}`);
  if (m.detail) parts.push(m.detail);
  return parts.join('  ');
}
