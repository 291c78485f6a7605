import { describe, expect, it } from 'vitest';
import { ArgumentError, parseSeedArguments } from '../../src/cli/seed-arguments.ts';
import type { SeedOptions } from '../../src/seeding/seed-service.ts';

const defaults: SeedOptions = { seed: 1, users: 5, trades: 0, allowProduction: false, isProduction: false };

describe('parseSeedArguments', () => {
  it('keeps the defaults without arguments', () => {
    expect(parseSeedArguments([], defaults)).toEqual(defaults);
  });

  it('reads --users, --trades and --seed, spaced or with =', () => {
    expect(parseSeedArguments(['--users', '100000', '--trades=2000', '--seed', '0'], defaults)).toEqual({ ...defaults, users: 100_000, trades: 2000, seed: 0 });
  });

  it.each([
    [['--users', '0'], '--users must be an integer from 1 to 10000000, got "0"'],
    [['--users', '1e5'], '--users must be an integer from 1 to 10000000, got "1e5"'],
    [['--users=10000001'], '--users must be an integer from 1 to 10000000, got "10000001"'],
    [['--trades', '2.5'], '--trades must be an integer from 0 to 10000000, got "2.5"'],
    [['--seed', '4294967296'], '--seed must be an integer from 0 to 4294967295, got "4294967296"'],
    [['--users', '2', '--users=3'], '--users is given more than once (usage: npm run seed -- [--users N] [--trades N] [--seed N])'],
    [['100'], 'unknown argument "100" (usage: npm run seed -- [--users N] [--trades N] [--seed N])'],
    [['--toString', '1'], 'unknown argument "--toString" (usage: npm run seed -- [--users N] [--trades N] [--seed N])'],
  ])('rejects %j with one line naming the argument', (args, message) => {
    expect(() => parseSeedArguments(args, defaults)).toThrow(new ArgumentError(message));
  });
});
