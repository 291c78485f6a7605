import { MAX_SEED, MAX_SEED_ROWS } from '../config.ts';
import { CLEANUP_TARGETS, isSizedScenario, SCENARIO_NAMES, type CleanupTarget, type ScenarioName } from '../seeding/scenario-names.ts';
import type { SeedOptions } from '../seeding/seed-options.ts';

/** A command-line argument enerlink cannot use; the message names it. */
export class ArgumentError extends Error {
  override name = 'ArgumentError';
}

const USAGE = `usage: npm run seed -- [--users N] [--trades N] [--seed N] [--scenario ${SCENARIO_NAMES.join('|')}]`;
const CLEANUP_USAGE = `usage: npm run seed:cleanup -- [--scenario ${CLEANUP_TARGETS.join('|')}]`;

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
export function parseSeedArguments(args: string[], defaults: SeedOptions): SeedOptions & { scenario?: ScenarioName } {
  const options = { ...defaults, scenario: undefined as ScenarioName | undefined };
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag === '--scenario') {
      if (given.has('scenario')) throw new ArgumentError(`--scenario is given more than once (${USAGE})`);
      given.add('scenario');
      options.scenario = oneOf(inline ?? args[++i], SCENARIO_NAMES);
      continue;
    }
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
  if (options.scenario && !isSizedScenario(options.scenario) && (given.has('users') || given.has('trades'))) {
    throw new ArgumentError(`scenario ${options.scenario} has a fixed size: it takes --seed, not --users or --trades`);
  }
  return options;
}

/** `npm run seed:cleanup` options: `--scenario <name>` (a scenario or `base`), or nothing for every fixture. */
export function parseCleanupArguments(args: string[]): { target?: CleanupTarget } {
  let target: CleanupTarget | undefined;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag !== '--scenario') throw new ArgumentError(`unknown argument ${JSON.stringify(args[i])} (${CLEANUP_USAGE})`);
    if (target !== undefined) throw new ArgumentError(`--scenario is given more than once (${CLEANUP_USAGE})`);
    target = oneOf(inline ?? args[++i], CLEANUP_TARGETS);
  }
  return { target };
}

function oneOf<T extends string>(text: string | undefined, names: readonly T[]): T {
  if (text !== undefined && (names as readonly string[]).includes(text)) return text as T;
  throw new ArgumentError(`--scenario must be one of ${names.join(', ')}, got ${text === undefined ? 'nothing' : JSON.stringify(text)}`);
}
