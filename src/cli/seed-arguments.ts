import { MAX_SEED, MAX_SEED_ROWS } from '../config.ts';
import type { SeedOptions } from '../seeding/seed-service.ts';

/** A command-line argument enerlink cannot use; the message names it. */
export class ArgumentError extends Error {
  override name = 'ArgumentError';
}

const USAGE = 'usage: npm run seed -- [--users N] [--trades N] [--seed N]';

const LIMITS = {
  users: { min: 1, max: MAX_SEED_ROWS },
  trades: { min: 0, max: MAX_SEED_ROWS },
  seed: { min: 0, max: MAX_SEED },
} as const;

/**
 * `npm run seed` options over `defaults` (the environment's): `--users N`, `--trades N`,
 * `--seed N`, also as `--users=N`. Parsed by hand: node's parseArgs calls `--trades -3`
 * "ambiguous" instead of saying what is wrong with -3.
 */
export function parseSeedArguments(args: string[], defaults: SeedOptions): SeedOptions {
  const options = { ...defaults };
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const name = flag.replace(/^--/, '') as keyof typeof LIMITS;
    if (!flag.startsWith('--') || !Object.hasOwn(LIMITS, name)) {
      throw new ArgumentError(`unknown argument ${JSON.stringify(args[i])} (${USAGE})`);
    }
    if (given.has(name)) throw new ArgumentError(`--${name} is given more than once (${USAGE})`);
    given.add(name);
    const text = inline ?? args[++i];
    const { min, max } = LIMITS[name];
    const value = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      throw new ArgumentError(`--${name} must be an integer from ${min} to ${max}, got ${text === undefined ? 'nothing' : JSON.stringify(text)}`);
    }
    options[name] = value;
  }
  return options;
}
