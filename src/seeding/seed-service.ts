import { performance } from 'node:perf_hooks';
import type { EntityData, EntityKey, EntityManager, EntityName } from '@mikro-orm/core';
import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import type { PoolClient } from 'pg';
import { fixturesOf, SCENARIOS, type StreamedScenarioDefinition } from './scenarios.ts';
import { BASE_SET, type ScenarioName } from './scenario-names.ts';
import { recordFixtureRun } from './fixture-runs.ts';
import { inSeedTransaction } from './seed-transaction.ts';
import type { QueryRunner } from '../db/query-runner.ts';
import type { EventBus } from '../events/event-bus.ts';
import { IdrsConversion } from '../idrs/idrs-conversion.entity.ts';
import { TransactionLog } from '../ledger/transaction-log.entity.ts';
import { EnergySettlement } from '../meters/energy-settlement.entity.ts';
import { SmartMeter } from '../meters/smart-meter.entity.ts';
import { MarketOffer } from '../trading/market-offer.entity.ts';
import { MarketTrade } from '../trading/market-trade.entity.ts';
import { User } from '../users/user.entity.ts';
import { Wallet } from '../wallets/wallet.entity.ts';
import { EnergySettlementFactory } from '../../seeders/factories/EnergySettlementFactory.ts';
import type { FixtureFactory } from '../../seeders/factories/fixture-factory.ts';
import { HouseholdLedgerFactory } from '../../seeders/factories/HouseholdLedgerFactory.ts';
import { IdrsConversionFactory } from '../../seeders/factories/IdrsConversionFactory.ts';
import { MarketOfferFactory } from '../../seeders/factories/MarketOfferFactory.ts';
import { MarketTradeFactory } from '../../seeders/factories/MarketTradeFactory.ts';
import { SmartMeterFactory } from '../../seeders/factories/SmartMeterFactory.ts';
import { TransactionLogFactory } from '../../seeders/factories/TransactionLogFactory.ts';
import { UserFactory } from '../../seeders/factories/UserFactory.ts';
import { WalletFactory } from '../../seeders/factories/WalletFactory.ts';
import { BulkCopy } from './bulk-copy.ts';
import { FIXTURE_PASSWORD, FixtureSet, fixturePasswordHash, type ScenarioFixtures } from './fixture-set.ts';

import { checkSeedOptions, type SeedOptions } from './seed-options.ts';

export { seedOptionsOf, type SeedOptions } from './seed-options.ts';

/** Seeding a production database without SEED_ALLOW_PRODUCTION=1; nothing was written. */
export class SeedRefusedError extends Error {
  override name = 'SeedRefusedError';
}

/** Refuses to write fixtures to (or clean them from) a production database unless SEED_ALLOW_PRODUCTION=1. */
export function refuseProduction(options: Pick<SeedOptions, 'isProduction' | 'allowProduction'>, what = 'seeding'): void {
  if (options.isProduction && !options.allowProduction) {
    throw new SeedRefusedError(
      what === 'seeding'
        ? 'seeding is refused with NODE_ENV=production: it writes users whose password is "password"; set SEED_ALLOW_PRODUCTION=1 to seed anyway'
        : `${what} is refused with NODE_ENV=production; set SEED_ALLOW_PRODUCTION=1 to run it anyway`,
    );
  }
}

/** Where a seed run tells a person what it does; every method may be left silent. */
export interface SeedReporter {
  warn(message: string): void;
  progress(rowsDone: number, rowsTotal: number): void;
  completed(summary: SeedSummary): void;
}

/** The fixture set after a run: its sizes (all present now), how many rows were new, and the pace. */
export interface SeedSummary {
  seed: number;
  users: number;
  wallets: number;
  meters: number;
  /** One settled hour per meter, within its capacity. */
  settlements: number;
  /** One ON_RAMP per household, paid: the IDRS its wallet holds. */
  conversions: number;
  /** One offer per household: open, or cancelled where the wallet is inactive. */
  offers: number;
  trades: number;
  transactionLogs: number;
  /** Every fixture row of the set. */
  rows: number;
  /** Rows this run inserted; 0 when the set was already there. */
  inserted: number;
  durationMs: number;
  rowsPerSecond: number;
  demo: { email: string; password: string };
}

export interface SeedContext {
  /** Where `seed.completed` is published, if anywhere. */
  events?: EventBus;
  /** Runs in the seed's transaction just before it commits (the lifecycle records the data change). */
  beforeCommit?: (execute: QueryRunner) => Promise<void>;
  reporter?: SeedReporter;
  /** Households (or trades) per COPY. */
  batchSize?: number;
}

const DEFAULT_BATCH_SIZE = 5_000;
const YIELD_EVERY_ROWS = 500;
const silent: SeedReporter = { warn() {}, progress() {}, completed() {} };

/**
 * Builds the fixture set of `options` (households: a user with one wallet, one provisioned and
 * claimed smart meter, a settlement, a paid ON_RAMP and an offer; optionally trades with their
 * ledger rows) into the database of `em`, then publishes
 * `seed.completed`. Idempotent: rows already present are skipped, other data is left alone. One
 * transaction on a connection of the ORM's pool; rows are generated a batch at a time and copied
 * in with one COPY per table and batch, so memory does not grow with the count.
 */
export function runSeed(em: EntityManager, options: SeedOptions, context: SeedContext = {}): Promise<SeedSummary> {
  return seedHouseholds(em, options, context, { name: BASE_SET });
}

/**
 * The streaming seed of runSeed, for the base set or a sized scenario (its own streams and
 * login, recorded under its name): one implementation of building households in batches.
 */
async function seedHouseholds(
  em: EntityManager,
  options: SeedOptions,
  context: SeedContext,
  set: { name: typeof BASE_SET | ScenarioName; fixtures?: ScenarioFixtures },
): Promise<SeedSummary> {
  const { events, beforeCommit, reporter = silent, batchSize = DEFAULT_BATCH_SIZE } = context;
  refuseProduction(options);
  checkSeedOptions(options);
  const started = performance.now();
  const fixtures = new FixtureSet(options.seed, fixturePasswordHash(options.seed), set.fixtures);
  if (options.isProduction) {
    reporter.warn(
      `seeding ${set.name === BASE_SET ? '' : `scenario ${set.name} into `}a PRODUCTION database (SEED_ALLOW_PRODUCTION=1): ${options.users.toLocaleString('en')} fixture users ` +
        `whose password is "password", including ${fixtures.login.email}`,
    );
  }

  const wallets = new WalletFactory(em, fixtures);
  const meters = new SmartMeterFactory(em, fixtures);
  const settlements = new EnergySettlementFactory(em, fixtures, meters);
  const conversions = new IdrsConversionFactory(em, fixtures, wallets);
  const ledger = { meters, settlements, conversions };
  // a household: its user, wallet and meter; the meter's first settlement and the ON_RAMP that
  // funded the wallet, each with its ledger rows; and its offer. Generated keys are replaced by
  // what identifies a fixture row: a meter has one fixture settlement, a seller one fixture offer.
  const households: Array<FixtureTable<any>> = [
    table(em, User, new UserFactory(em, fixtures)),
    { ...table(em, Wallet, wallets), ownedThrough: 'user' },
    { ...table(em, SmartMeter, meters), ownedThrough: 'user' },
    table(em, EnergySettlement, settlements, ['meter']),
    { ...table(em, TransactionLog, new HouseholdLedgerFactory(em, fixtures, 'settlement', ledger), ['user', 'description']), ownedThrough: 'user' },
    { ...table(em, IdrsConversion, conversions, ['paymentId']), ownedThrough: 'user' },
    { ...table(em, TransactionLog, new HouseholdLedgerFactory(em, fixtures, 'on-ramp requested', ledger), ['user', 'description']), ownedThrough: 'user' },
    { ...table(em, TransactionLog, new HouseholdLedgerFactory(em, fixtures, 'on-ramp paid', ledger), ['user', 'description']), ownedThrough: 'user' },
    { ...table(em, MarketOffer, new MarketOfferFactory(em, fixtures, wallets), ['seller']), ownedThrough: 'seller' },
  ];
  const trading: Array<FixtureTable<any>> = [];
  if (options.trades > 0) {
    const tradeFactory = new MarketTradeFactory(em, fixtures, options.users);
    // generated primary keys: a trade is known by its tx hash, a ledger row by tx hash and user
    trading.push(table(em, MarketTrade, tradeFactory, ['txHash']));
    trading.push(table(em, TransactionLog, new TransactionLogFactory(em, fixtures, tradeFactory), ['txHash', 'user']));
  }
  const rowsTotal = options.users * households.length + options.trades * 3;
  let rowsDone = 0;
  const advance = (rows: number) => reporter.progress((rowsDone += rows), rowsTotal);

  const connection = em.getConnection() as PostgreSqlConnection;
  // Through the ORM first: Kysely adopts the pg pool on its first query, and only a pool it
  // adopted is ended by orm.close(); a process that only borrowed it would hang until idle timeout.
  await assertMigrated(connection, [...new Set([...households, ...trading].map(({ writer }) => writer.tableName))]);
  const inserted = await inSeedTransaction(
    em,
    async client => {
      let inserted = await writeInBatches(client, households, options.users, batchSize, advance);
      if (trading.length > 0) {
        const [trades, logs] = trading;
        inserted += await writeInBatches(client, [trades], options.trades, batchSize, advance);
        inserted += await writeInBatches(client, [logs], options.trades * 2, batchSize * 2, advance);
      }
      // trades are between households of the set: removing its users removes them too
      await recordFixtureRun(client, { scenario: set.name, seed: options.seed, households: options.users });
      return inserted;
    },
    beforeCommit,
  );

  const durationMs = performance.now() - started;
  const summary: SeedSummary = {
    seed: options.seed,
    users: options.users,
    wallets: options.users,
    meters: options.users,
    settlements: options.users,
    conversions: options.users,
    offers: options.users,
    trades: options.trades,
    transactionLogs: options.trades * 2 + options.users * 3,
    rows: rowsTotal,
    inserted,
    durationMs,
    rowsPerSecond: rowsTotal / (durationMs / 1000),
    demo: { email: fixtures.login.email, password: FIXTURE_PASSWORD },
  };
  await events?.emit('seed.completed', { users: summary.users, wallets: summary.wallets, meters: summary.meters, seed: summary.seed });
  reporter.completed(summary);
  return summary;
}

/** Fails with a hint when the database has not been migrated (a fresh database, a typo in DATABASE_URL). */
async function assertMigrated(connection: PostgreSqlConnection, tables: string[]): Promise<void> {
  const [{ missing }] = await connection.execute<Array<{ missing: string[] | null }>>(
    'select array_agg(name order by name) as missing from unnest(?::text[]) as name where to_regclass(quote_ident(name)) is null',
    [`{${tables.join(',')}}`],
  );
  if (missing?.length) {
    throw new Error(`the database is not migrated (no table ${missing.join(', ')}): run npm run migration:up first`);
  }
}

interface FixtureTable<T extends object> {
  factory: FixtureFactory<T>;
  writer: BulkCopy<T>;
  /**
   * The property through which each row belongs to a row of the batch's first table (a wallet
   * to its user). Such a row cannot be in the table unless its owner was (its foreign key needs
   * the owner), so only the rows of owners already present are looked up: on a first run, a
   * third of the lookups. A random key that collided with another household's row would fail
   * the COPY loudly, never be skipped.
   */
  ownedThrough?: string;
}

function table<T extends object>(em: EntityManager, entity: EntityName<T>, factory: FixtureFactory<T>, key?: Array<EntityKey<T>>): FixtureTable<T> {
  return { factory, writer: new BulkCopy(em.getMetadata(entity), em.getPlatform(), key) };
}

/**
 * Writes rows 0 .. count - 1 of each table, batch by batch and table by table (so foreign keys
 * are satisfied), building the next batch while PostgreSQL copies the current one. Returns how
 * many rows were new.
 */
async function writeInBatches(
  client: PoolClient,
  tables: Array<FixtureTable<any>>,
  count: number,
  batchSize: number,
  advance: (rows: number) => void,
): Promise<number> {
  let inserted = 0;
  let inFlight: Promise<void> | undefined;
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const batch = tables.map((): Array<EntityData<object>> => []);
    for (let index = start; index < end; index++) {
      // household by household: its user, wallet and meter share one identity computation
      for (const [i, { factory }] of tables.entries()) batch[i].push(factory.row(index));
      // lets the write of the previous batch go on as soon as PostgreSQL answers
      if (index % YIELD_EVERY_ROWS === 0) await new Promise(setImmediate);
    }
    await inFlight;
    inFlight = (async () => {
      // one table after the other: wallets and meters need their users
      let presentOwners: Set<string> | undefined;
      for (const [i, { writer, ownedThrough }] of tables.entries()) {
        const owners = presentOwners;
        const mayExist = ownedThrough && owners ? (row: Record<string, unknown>) => owners.has(String(row[ownedThrough])) : undefined;
        const written = await writer.write(client, batch[i], mayExist);
        inserted += written.inserted;
        if (i === 0) presentOwners = new Set(written.present.map(row => writer.keyOf(row)));
      }
      advance((end - start) * tables.length);
    })();
    // awaited on the next turn of the loop; an early failure must not count as unhandled meanwhile
    inFlight.catch(() => {});
  }
  await inFlight;
  return inserted;
}

/** A scenario after a run: what it holds (all present now), how many rows were new, and its login. */
export interface ScenarioSummary {
  scenario: ScenarioName;
  seed: number;
  /** What the login shows. */
  shows: string;
  /** Rows of the scenario by table label, users first. */
  tables: Array<{ label: string; rows: number }>;
  rows: number;
  /** Rows this run inserted; 0 when the scenario was already there. */
  inserted: number;
  durationMs: number;
  login: { email: string; password: string };
}

/**
 * Builds scenario `name` for `options.seed` beside whatever is there (the base set included): its
 * own households, whose ids and emails come from the scenario's streams, so it never touches a
 * base-set row. Idempotent per household: a household already present is skipped with every row
 * it owns, since a run writes a household and its rows in one transaction. Scenarios are small
 * (tens to hundreds of rows): built in memory, one COPY per table.
 */
export async function runScenario(em: EntityManager, name: ScenarioName, options: SeedOptions, context: SeedContext = {}): Promise<ScenarioSummary> {
  const { events, beforeCommit, reporter = silent } = context;
  refuseProduction(options);
  const definition = SCENARIOS[name];
  if (definition.streamed) return streamedScenario(em, definition, options, context);
  if (options.isProduction) reporter.warn(`seeding scenario ${name} into a PRODUCTION database (SEED_ALLOW_PRODUCTION=1): its users' password is "password"`);
  const started = performance.now();
  const fixtures = fixturesOf(name, options.seed, fixturePasswordHash(options.seed));
  const users = new UserFactory(em, fixtures);
  const userRows = Array.from({ length: definition.households }, (_, index) => users.row(index));
  const tables = definition.tables(em, fixtures);
  // keyed by the owner: rows are never looked up (see below), and a generated primary key cannot be a key
  const writerOf = (entity: EntityName<any>, key?: string) => new BulkCopy(em.getMetadata(entity), em.getPlatform(), key ? [key as never] : undefined);
  const userWriter = writerOf(User);
  const connection = em.getConnection() as PostgreSqlConnection;
  await assertMigrated(connection, [userWriter.tableName, ...tables.map(({ entity }) => em.getMetadata(entity).tableName)]);
  const inserted = await inSeedTransaction(
    em,
    async client => {
      const written = await userWriter.write(client, userRows);
      const present = new Set(written.present.map(row => String(row.userId)));
      let inserted = written.inserted;
      for (const { entity, owner, ownerUser, rows } of tables) {
        const ownerOf = ownerUser ?? ((row: EntityData<any>) => String(row[owner]));
        const fresh = rows.filter(row => !present.has(ownerOf(row)));
        // the households are new, so their rows cannot be there yet: nothing to look up
        const writer = writerOf(entity, owner);
        for (let start = 0; start < fresh.length; start += DEFAULT_BATCH_SIZE) {
          inserted += (await writer.write(client, fresh.slice(start, start + DEFAULT_BATCH_SIZE), () => false)).inserted;
        }
      }
      await recordFixtureRun(client, { scenario: name, seed: options.seed, households: definition.households });
      return inserted;
    },
    beforeCommit,
  );
  const counts = [{ label: 'users', rows: userRows.length }, ...tables.map(({ label, rows }) => ({ label, rows: rows.length }))];
  const summary: ScenarioSummary = {
    scenario: name,
    seed: options.seed,
    shows: definition.shows,
    tables: counts,
    rows: counts.reduce((sum, table) => sum + table.rows, 0),
    inserted,
    durationMs: performance.now() - started,
    login: { email: fixtures.login.email, password: FIXTURE_PASSWORD },
  };
  await events?.emit('seed.completed', { users: userRows.length, wallets: tables.find(t => t.label === 'wallets')?.rows.length ?? 0, meters: tables.find(t => t.label === 'smart meters')?.rows.length ?? 0, seed: options.seed });
  return summary;
}

/** A sized scenario: the base set's streaming seed over the scenario's streams, summarized as a scenario. */
async function streamedScenario(em: EntityManager, definition: StreamedScenarioDefinition, options: SeedOptions, context: SeedContext): Promise<ScenarioSummary> {
  // the scenario's own summary is the report: the base set's completion line would say it twice
  const reporter = context.reporter && { ...context.reporter, completed() {} };
  const seeded = await seedHouseholds(em, options, { ...context, reporter }, { name: definition.name, fixtures: definition.fixtures });
  const tables = [
    { label: 'users', rows: seeded.users },
    { label: 'wallets', rows: seeded.wallets },
    { label: 'smart meters', rows: seeded.meters },
    { label: 'settlements', rows: seeded.settlements },
    { label: 'conversions', rows: seeded.conversions },
    { label: 'offers', rows: seeded.offers },
    ...(seeded.trades > 0 ? [{ label: 'trades', rows: seeded.trades }] : []),
    { label: 'transaction logs', rows: seeded.transactionLogs },
  ];
  return {
    scenario: definition.name,
    seed: seeded.seed,
    shows: definition.shows,
    tables,
    rows: seeded.rows,
    inserted: seeded.inserted,
    durationMs: seeded.durationMs,
    login: seeded.demo,
  };
}
