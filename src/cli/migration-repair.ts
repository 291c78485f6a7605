// npm run migration:repair -- <name> --reason "<why>" [--by <who>]: accepts an intentional
// change to an applied migration, under the migration lock: an edited one gets the checksum of
// what its file runs now; a missing one (its file deliberately deleted) is forgotten as
// applied. Recorded in the run log (method repair) with who and why.
import { userInfo } from 'node:os';
import { loadConfigOrExit } from '../config.ts';
import { argumentsOrExit, ArgumentError, parseCommandArguments } from './command-arguments.ts';
import { exitOnFailure } from './errors.ts';
import { withMigrationCommand } from './migration-command.ts';

const USAGE = 'usage: npm run migration:repair -- <migration> --reason "<why>" [--by <who>]';

const config = loadConfigOrExit();
const { name, reason, by } = argumentsOrExit(() => {
  const { values, positionals } = parseCommandArguments(process.argv.slice(2), { reason: { type: 'string' }, by: { type: 'string' } }, USAGE, { positionals: true });
  if (positionals.length !== 1) throw new ArgumentError(`name exactly one migration, got ${positionals.length} (${USAGE})`);
  if (values.reason === undefined) throw new ArgumentError(`--reason is required: the run log keeps why an applied migration was accepted as changed (${USAGE})`);
  return { name: positionals[0], reason: values.reason as string, by: (values.by as string | undefined) ?? userInfo().username };
});
const result = await exitOnFailure(() => withMigrationCommand(config, lifecycle => lifecycle.repair(name, { by, reason, origin: 'cli' })));
if (result.action === 'accepted edit') {
  console.log(`Repaired ${result.migration}: accepted the edit (checksum ${result.previousChecksum} -> ${result.checksum}), by ${by}: ${reason}`);
} else {
  console.log(`Repaired ${result.migration}: its file is gone and it is no longer recorded as applied (its schema changes stay), by ${by}: ${reason}`);
}
