import { describe, expect, it } from 'vitest';
import { ArgumentError, parseCleanupArguments, parseSeedArguments } from '../../src/cli/seed-arguments.ts';
import type { SeedOptions } from '../../src/seeding/seed-service.ts';

const defaults: SeedOptions = { seed: 1, users: 5, trades: 0, allowProduction: false, isProduction: false };

describe('parseSeedArguments', () => {
  it('keeps the defaults without arguments', () => {
    expect(parseSeedArguments([], defaults)).toEqual({ ...defaults, scenario: undefined });
  });

  it('reads --users, --trades and --seed, spaced or with =', () => {
    expect(parseSeedArguments(['--users', '100000', '--trades=2000', '--seed', '0'], defaults)).toEqual({ ...defaults, users: 100_000, trades: 2000, seed: 0, scenario: undefined });
  });

  it.each([
    [['--users', '0'], '--users must be an integer from 1 to 10000000, got "0"'],
    [['--users', '1e5'], '--users must be an integer from 1 to 10000000, got "1e5"'],
    [['--users=10000001'], '--users must be an integer from 1 to 10000000, got "10000001"'],
    [['--trades', '2.5'], '--trades must be an integer from 0 to 10000000, got "2.5"'],
    [['--seed', '4294967296'], '--seed must be an integer from 0 to 4294967295, got "4294967296"'],
    [['--users', '2', '--users=3'], '--users is given more than once (usage: npm run seed -- [--users N] [--trades N] [--seed N] [--scenario power-trader|boundary-amounts|lifecycle|settlement-heavy|large-market])'],
    [['100'], 'unknown argument "100" (usage: npm run seed -- [--users N] [--trades N] [--seed N] [--scenario power-trader|boundary-amounts|lifecycle|settlement-heavy|large-market])'],
    [['--toString', '1'], 'unknown argument "--toString" (usage: npm run seed -- [--users N] [--trades N] [--seed N] [--scenario power-trader|boundary-amounts|lifecycle|settlement-heavy|large-market])'],
  ])('rejects %j with one line naming the argument', (args, message) => {
    expect(() => parseSeedArguments(args, defaults)).toThrow(new ArgumentError(message));
  });
});

describe('--scenario', () => {
  it('names a scenario for npm run seed and a scenario or base for seed:cleanup', () => {
    expect(parseSeedArguments(['--scenario', 'lifecycle', '--seed=3'], defaults)).toMatchObject({ scenario: 'lifecycle', seed: 3 });
    expect(parseSeedArguments(['--scenario', 'large-market', '--users', '200000', '--trades=10'], defaults)).toMatchObject({ scenario: 'large-market', users: 200_000, trades: 10 });
    expect(parseCleanupArguments(['--scenario=base'])).toEqual({ target: 'base' });
    expect(parseCleanupArguments([])).toEqual({ target: undefined });
  });

  it.each([
    [() => parseSeedArguments(['--scenario', 'base'], defaults), '--scenario must be one of power-trader, boundary-amounts, lifecycle, settlement-heavy, large-market, got "base"'],
    [() => parseSeedArguments(['--scenario'], defaults), '--scenario must be one of power-trader, boundary-amounts, lifecycle, settlement-heavy, large-market, got nothing'],
    [() => parseSeedArguments(['--scenario=lifecycle', '--scenario=lifecycle'], defaults), /^--scenario is given more than once/],
    [() => parseSeedArguments(['--scenario', 'settlement-heavy', '--users', '3'], defaults), 'scenario settlement-heavy has a fixed size: it takes --seed, not --users or --trades'],
    [() => parseCleanupArguments(['--users', '3']), /^unknown argument "--users" \(usage: npm run seed:cleanup -- \[--scenario base\|power-trader/],
  ])('refuses %#', (parse, message) => {
    expect(parse).toThrow(message);
  });
});
