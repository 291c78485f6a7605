// npm run migration:lint [-- <migration>...] [--json]: parses each migration's SQL with
// PostgreSQL's own parser (libpg-query) and reports, per finding, the rule, the file, the
// statement, why it is unsafe on a live database and the safe alternative. A finding is
// allowed only by a `lint-ignore <rule>: <reason>` annotation in the migration itself.
// Exit 0 when nothing is left, 1 otherwise.
import { loadConfigOrExit } from '../config.ts';
import { argumentsOrExit, parseCommandArguments } from './command-arguments.ts';
import { exitOnFailure } from './errors.ts';
import { withMigrationCommand } from './migration-command.ts';
import { describeLint } from './migration-output.ts';

const USAGE = 'usage: npm run migration:lint -- [<migration>...] [--json]';

const config = loadConfigOrExit();
const { values, positionals } = argumentsOrExit(() => parseCommandArguments(process.argv.slice(2), { json: { type: 'boolean' } }, USAGE, { positionals: true }));
const report = await exitOnFailure(() => withMigrationCommand(config, lifecycle => lifecycle.lint(positionals)));
process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : describeLint(report));
process.exit(report.failures === 0 ? 0 : 1);
