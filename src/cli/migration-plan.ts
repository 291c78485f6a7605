// npm run migration:plan [-- --to <migration>] [-- --down [--steps N | --to <migration>]] [--json]:
// what migration:up (or down) would do, per migration in order: whether it runs in a
// transaction, each statement's SQL, the lock it takes on which table, whether it rewrites or
// scans it and the table's estimated rows, and the lint findings. Applies nothing, takes no lock.
import { loadConfigOrExit } from '../config.ts';
import type { RunSelection } from '../schema/migration-plan.ts';
import { argumentsOrExit, ArgumentError, parseCommandArguments } from './command-arguments.ts';
import { exitOnFailure } from './errors.ts';
import { withMigrationCommand } from './migration-command.ts';
import { describePlan } from './migration-output.ts';

const USAGE = 'usage: npm run migration:plan -- [--to <migration>] [--down [--steps N | --to <migration>]] [--json]';
const MAX_STEPS = 1000;

const config = loadConfigOrExit();
const { method, selection, json } = argumentsOrExit(() => {
  const { values } = parseCommandArguments(
    process.argv.slice(2),
    { to: { type: 'string' }, down: { type: 'boolean' }, steps: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  );
  const to = values.to as string | undefined;
  const steps = values.steps as string | undefined;
  if (steps !== undefined && !values.down) throw new ArgumentError(`--steps counts migrations to revert: it needs --down (${USAGE})`);
  if (steps !== undefined && to !== undefined) throw new ArgumentError(`give either --to or --steps, not both (${USAGE})`);
  if (steps !== undefined && !(/^\d+$/.test(steps) && Number(steps) >= 1 && Number(steps) <= MAX_STEPS)) {
    throw new ArgumentError(`--steps must be an integer from 1 to ${MAX_STEPS}, got ${JSON.stringify(steps)}`);
  }
  const selection: RunSelection = values.down ? (to !== undefined ? { to } : { steps: Number(steps ?? 1) }) : to !== undefined ? { to } : undefined;
  return { method: values.down ? ('down' as const) : ('up' as const), selection, json: Boolean(values.json) };
});
const plan = await exitOnFailure(() => withMigrationCommand(config, lifecycle => lifecycle.dryRun(method, selection)));
process.stdout.write(json ? `${JSON.stringify(plan, null, 2)}\n` : describePlan(plan));
