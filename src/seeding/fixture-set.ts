import { createHash } from 'node:crypto';
import { Faker, en, type Randomizer } from '@faker-js/faker';
import { hashPasswordWithSalt } from '../auth/passwords.ts';

/** Every fixture user's password: the customer's seeding guide and its testers rely on it. */
export const FIXTURE_PASSWORD = 'password';

/** Cost of the fixture password hash: the cost the customer's application uses for real accounts. */
export const FIXTURE_BCRYPT_COST = 12;

/** The household every seed builds identically (index 0), so its login can be printed and documented. */
export const DEMO_LOGIN = { userId: 'user_demo', name: 'Demo User', email: 'demo@enerlink.example', password: FIXTURE_PASSWORD } as const;

/** Fixture users join one per minute from the day of the prosumer-to-user rename: fixed, not `now()`. */
export const FIXTURE_EPOCH_MS = Date.UTC(2024, 10, 2);
const JOIN_INTERVAL_MS = 60_000;

/**
 * When the fixture offers expire: fixed (the same SEED gives the same bytes) and far enough away
 * that the seeded market has open offers for as long as anyone develops against it.
 */
export const FIXTURE_OFFER_EXPIRY = new Date(Date.UTC(2099, 11, 31));

/** Independent random streams of the fixture set: row `i` of one stream never depends on another stream. */
export const FixtureStream = { users: 1, wallets: 2, meters: 3, trades: 4, household: 5, settlements: 6, conversions: 7, offers: 8 } as const;
export type FixtureStream = (typeof FixtureStream)[keyof typeof FixtureStream];

/** A named scenario's own households: their random streams and the login its household 0 shows. */
export interface ScenarioFixtures {
  /** Mixed into every row's seed, so a scenario's households never coincide with the base set's. */
  namespace: number;
  login: { userId: string; name: string; email: string };
}

/** Who a fixture household is: its user's id and the moment it joined, shared by its wallet and meter. */
export interface HouseholdIdentity {
  userId: string;
  joinedAt: Date;
}

/**
 * The deterministic source of one fixture set: a faker re-seeded for every row from (stream, row
 * index, SEED), so any row can be built on its own, in any order, and the same SEED always gives
 * the same bytes. Household 0 is the demo household and ignores SEED.
 */
export class FixtureSet {
  readonly seed: number;
  /** bcrypt hash of FIXTURE_PASSWORD shared by every user of the set: see `fixturePasswordHash`. */
  readonly passwordHash: string;
  readonly faker: Faker;
  /**
   * faker's own name lists. `faker.person.lastName()` expands a name-pattern template on every
   * call (~3 µs); picking from the list with the same seeded faker costs a tenth of that.
   */
  readonly names: { readonly first: readonly string[]; readonly last: readonly string[] };
  /** The login household 0 has: the demo login, or the scenario's. */
  readonly login: { userId: string; name: string; email: string };
  readonly #namespace: number | undefined;
  readonly #identityRandom = createFastRandomizer();
  #lastIdentity: { index: number; identity: HouseholdIdentity } | undefined;

  constructor(seed: number, passwordHash: string, scenario?: ScenarioFixtures) {
    this.seed = seed;
    this.passwordHash = passwordHash;
    this.login = scenario?.login ?? DEMO_LOGIN;
    this.#namespace = scenario?.namespace;
    this.faker = new Faker({ locale: [en], randomizer: createFastRandomizer() });
    const { first_name: first, last_name: last } = this.faker.definitions.person;
    this.names = { first: nameList(first), last: nameList(last) };
  }

  /** The faker, positioned at the start of row `index` of `stream`. */
  fakerFor(stream: FixtureStream, index: number): Faker {
    this.faker.seed(this.#words(stream, index));
    return this.faker;
  }

  /**
   * Household `index`'s user id and join time. Unique by construction: the id carries the join
   * time in milliseconds, and each household joins in its own minute.
   */
  household(index: number): HouseholdIdentity {
    if (this.#lastIdentity?.index === index) return this.#lastIdentity.identity;
    const random = this.#identityRandom;
    random.seed(this.#words(FixtureStream.household, index));
    const joinedAtMs = FIXTURE_EPOCH_MS + index * JOIN_INTERVAL_MS + Math.floor(random.next() * JOIN_INTERVAL_MS);
    let token = '';
    for (let i = 0; i < 8; i++) token += TOKEN_ALPHABET[Math.floor(random.next() * TOKEN_ALPHABET.length)];
    const identity = { userId: index === 0 ? this.login.userId : `user_${joinedAtMs}_${token}`, joinedAt: new Date(joinedAtMs) };
    this.#lastIdentity = { index, identity };
    return identity;
  }

  // the base set's words are what earlier releases seeded with; a scenario appends its namespace
  #words(stream: FixtureStream, index: number): number[] {
    const words = index === 0 ? [stream] : [stream, index, this.seed];
    return this.#namespace === undefined ? words : [...words, this.#namespace];
  }
}

const TOKEN_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function nameList(names: string[] | { generic?: string[]; female?: string[]; male?: string[] } | undefined): readonly string[] {
  if (Array.isArray(names)) return names;
  return names?.generic ?? [...(names?.female ?? []), ...(names?.male ?? [])];
}

const passwordHashes = new Map<number, string>();

/**
 * The bcrypt hash of FIXTURE_PASSWORD for `seed`, computed once per process and seed (~250 ms
 * at cost 12: the admin API may seed many times) and shared by every fixture user. The salt is
 * derived from the seed instead of drawn at random so the same seed gives the same bytes; a
 * secret salt buys nothing for a password that is printed in the README.
 */
export function fixturePasswordHash(seed: number): string {
  let hash = passwordHashes.get(seed);
  if (hash === undefined) {
    if (passwordHashes.size >= 100) passwordHashes.clear();
    hash = hashOf(seed);
    passwordHashes.set(seed, hash);
  }
  return hash;
}

function hashOf(seed: number): string {
  const saltBytes = createHash('sha256').update(`enerlink-fixture-salt:${seed}`).digest().subarray(0, 16);
  return hashPasswordWithSalt(FIXTURE_PASSWORD, FIXTURE_BCRYPT_COST, saltBytes);
}

/**
 * `length` random lowercase digits in base 16 (a wallet address, a tx hash) or 36 (a serial).
 * Drawn several digits at a time: faker's `string.hexadecimal` and `string.alphanumeric` draw
 * one by one, several times slower over a few hundred thousand rows.
 */
export function randomDigits(faker: Faker, length: number, radix: 16 | 36): string {
  const perDraw = radix === 16 ? 8 : 6; // radix ** perDraw stays within 32 bits
  const max = radix ** perDraw - 1;
  let digits = '';
  while (digits.length < length) digits += faker.number.int(max).toString(radix).padStart(perDraw, '0');
  return digits.slice(0, length);
}

/** `units / 10^scale` as the exact decimal text PostgreSQL numeric columns take, e.g. (12345, 2) -> "123.45". */
export function decimal(units: number, scale: number): string {
  return (units / 10 ** scale).toFixed(scale);
}

/**
 * A faker randomizer with a cheap `seed()`: sfc32, its 128-bit state filled from the seed words
 * through four murmur3-finalizer chains that start apart. Faker's default Mersenne Twister spends
 * ~35 µs per `seed()`, which re-seeding per row would pay a few hundred thousand times in a large
 * run; this one costs well under a microsecond. (A single 32-bit chain would make two of 100k
 * rows share their whole stream now and then: a wallet address twice.) Closures, not a class:
 * faker calls `next` detached from its object.
 */
export function createFastRandomizer(): Randomizer {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 1;
  const next32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  return {
    seed(seed: number | number[]): void {
      const words = Array.isArray(seed) ? seed : [seed];
      const lanes = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344].map(start => start ^ words.length);
      for (const word of words) {
        const low = word >>> 0;
        const high = Math.floor(word / 2 ** 32) >>> 0;
        for (let lane = 0; lane < 4; lane++) lanes[lane] = mix32(mix32(lanes[lane] ^ low) ^ high);
      }
      [a, b, c, d] = lanes;
      for (let i = 0; i < 12; i++) next32();
    },
    next(): number {
      return ((next32() >>> 5) * 67_108_864 + (next32() >>> 6)) / 9_007_199_254_740_992;
    },
  };
}

function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
