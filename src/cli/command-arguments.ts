import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ArgumentError } from './seed-arguments.ts';

export { ArgumentError };

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A command's options through node's parseArgs (strict: unknown options and options without
 * their value are refused), refusing an option given twice too: which of two `--to`s the
 * operator meant is not for the command to guess. Errors are ArgumentErrors ending with `usage`.
 */
export function parseCommandArguments<O extends Options>(args: string[], options: O, usage: string, { positionals = false } = {}) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals, tokens: true });
  } catch (error) {
    throw new ArgumentError(`${(error as Error).message.split('\n')[0]} (${usage})`);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new ArgumentError(`--${token.name} is given more than once (${usage})`);
    seen.add(token.name);
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'string' && value.trim() === '') throw new ArgumentError(`--${name} needs a value (${usage})`);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** What `parse` returns; a caller's mistake (an ArgumentError) is one `enerlink:` line and exit 1. */
export function argumentsOrExit<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    process.stderr.write(`enerlink: ${error.message}\n`);
    process.exit(1);
  }
}
