import { parseArgs } from 'node:util';
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

/** `npm run seed` options over `defaults` (the environment's): `--users N`, `--trades N`, `--seed N`. */
export function parseSeedArguments(args: string[], defaults: SeedOptions): SeedOptions {
  let values: Partial<Record<keyof typeof LIMITS, string>>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { users: { type: 'string' }, trades: { type: 'string' }, seed: { type: 'string' } },
    }));
  } catch (error) {
    throw new ArgumentError(`${(error as Error).message.split('\n')[0]} (${USAGE})`);
  }
  const options = { ...defaults };
  for (const name of Object.keys(LIMITS) as Array<keyof typeof LIMITS>) {
    const text = values[name];
    if (text === undefined) continue;
    const { min, max } = LIMITS[name];
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      throw new ArgumentError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    options[name] = value;
  }
  return options;
}
