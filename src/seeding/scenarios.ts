import type { EntityData, EntityManager, EntityName } from '@mikro-orm/core';
import { TokenBlacklist } from '../auth/token-blacklist.entity.ts';
import { IdrsConversion } from '../idrs/idrs-conversion.entity.ts';
import { TransactionLog } from '../ledger/transaction-log.entity.ts';
import { EnergySettlement } from '../meters/energy-settlement.entity.ts';
import { SmartMeter } from '../meters/smart-meter.entity.ts';
import { MarketOffer } from '../trading/market-offer.entity.ts';
import { MarketTrade } from '../trading/market-trade.entity.ts';
import { User } from '../users/user.entity.ts';
import { Wallet } from '../wallets/wallet.entity.ts';
import { SmartMeterFactory } from '../../seeders/factories/SmartMeterFactory.ts';
import { UserFactory } from '../../seeders/factories/UserFactory.ts';
import { WalletFactory } from '../../seeders/factories/WalletFactory.ts';
import { decimal, FIXTURE_OFFER_EXPIRY, FixtureSet, FixtureStream, randomDigits, type ScenarioFixtures } from './fixture-set.ts';
import type { ScenarioName } from './scenario-names.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** Rows of one table of a scenario, each belonging to one of its households through `owner`. */
export interface ScenarioTable {
  label: string;
  entity: EntityName<any>;
  /** The property naming what a row belongs to: its household's user id, unless `ownerUser` maps it to one. A row is written with its household, or not at all. */
  owner: string;
  ownerUser?: (row: EntityData<any>) => string;
  rows: Array<EntityData<any>>;
}

/** What every named scenario has: its seeder class, what its login shows, and its own streams. */
interface ScenarioBase {
  name: ScenarioName;
  /** Its seeder class in seeders/, for `npx mikro-orm seeder:run --class`. */
  seederClass: string;
  /** One line for the README and the summary: what the login shows. */
  shows: string;
  fixtures: ScenarioFixtures;
}

/**
 * A sized scenario: the base set's households over the scenario's own streams, as many as
 * asked (`--users N`), built by the base set's streaming seed (batches, COPY, flat memory).
 */
export interface StreamedScenarioDefinition extends ScenarioBase {
  streamed: true;
}

/** A named scenario of a fixed size: its own households (never the base set's), built whole from (SEED, namespace). */
export interface ScenarioDefinition extends ScenarioBase {
  streamed?: false;
  households: number;
  /** Every table after the users, in foreign key order. */
  tables(em: EntityManager, fixtures: FixtureSet): ScenarioTable[];
}

/** The households of a scenario: the base set's factories over the scenario's own streams. */
function householdRows(em: EntityManager, fixtures: FixtureSet, households: number) {
  const users = new UserFactory(em, fixtures);
  const wallets = new WalletFactory(em, fixtures);
  const meters = new SmartMeterFactory(em, fixtures);
  return Array.from({ length: households }, (_, index) => ({ userId: fixtures.household(index).userId, user: users.row(index), wallet: wallets.row(index), meter: meters.row(index), joinedAt: fixtures.household(index).joinedAt }));
}


function tradeRows(fixtures: FixtureSet, count: number, pick: (index: number) => { buyer: string; seller: string; at: Date; microKwh: number; priceCents: number }) {
  const trades: Array<EntityData<any>> = [];
  const logs: Array<EntityData<any>> = [];
  for (let index = 0; index < count; index++) {
    const { buyer, seller, at, microKwh, priceCents } = pick(index);
    const faker = fixtures.fakerFor(FixtureStream.trades, index);
    const txHash = `0x${randomDigits(faker, 64, 16)}`;
    const energy = decimal(microKwh, 6);
    const total = decimal(Math.round((microKwh * priceCents) / 1_000_000), 2);
    trades.push({ buyer, seller, tradedEnergyKwh: energy, priceIdrsPerKwh: decimal(priceCents, 2), totalIdrs: total, txHash, tradeTimestamp: at });
    logs.push(
      { user: buyer, transactionType: 'TRADE_BUY', description: `Bought ${energy} kWh from ${seller}`, amount: total, currency: 'IDRS', txHash, transactionTimestamp: at },
      { user: seller, transactionType: 'TRADE_SELL', description: `Sold ${energy} kWh to ${buyer}`, amount: total, currency: 'IDRS', txHash, transactionTimestamp: at },
    );
  }
  return { trades, logs };
}

const POWER_TRADER_COUNTERPARTS = 24;
const POWER_TRADER_OFFERS = 120;
const POWER_TRADER_TRADES = 300;

const powerTrader: ScenarioDefinition = {
  name: 'power-trader',
  seederClass: 'PowerTraderSeeder',
  shows: `one household with ${POWER_TRADER_OFFERS} offers (open, filled, cancelled) and ${POWER_TRADER_TRADES} trades with ${POWER_TRADER_COUNTERPARTS} counterparts`,
  fixtures: { namespace: 101, login: { userId: 'user_power_trader', name: 'Power Trader', email: 'power-trader@enerlink.example' } },
  households: 1 + POWER_TRADER_COUNTERPARTS,
  tables(em, fixtures) {
    const households = householdRows(em, fixtures, this.households);
    const trader = households[0];
    // enough energy for every open offer at once: an open offer never reserves more than its seller has
    Object.assign(trader.wallet, { energyBalance: '5000.000000', idrsBalance: '50000000.00', isActive: true });
    Object.assign(trader.meter, { status: 'ACTIVE', capacityKw: '10.000' });
    for (const { wallet } of households) wallet.isActive = true;
    const offers = Array.from({ length: POWER_TRADER_OFFERS }, (_, index) => {
      const faker = fixtures.fakerFor(FixtureStream.offers, index);
      const energy = decimal(faker.number.int({ min: 1_000_000, max: 20_000_000 }), 6); // 1 to 20 kWh
      const status = index % 6 === 4 ? 'FILLED' : index % 6 === 5 ? 'CANCELLED' : 'OPEN';
      const at = new Date(trader.joinedAt.getTime() + (index + 1) * HOUR_MS);
      return {
        seller: trader.userId,
        energyKwh: energy,
        remainingKwh: status === 'FILLED' ? '0.000000' : energy,
        priceIdrsPerKwh: decimal(faker.number.int({ min: 100_000, max: 250_000 }), 2),
        status,
        expiresAt: FIXTURE_OFFER_EXPIRY,
        createdAt: at,
        updatedAt: at,
      };
    });
    const { trades, logs } = tradeRows(fixtures, POWER_TRADER_TRADES, index => {
      const counterpart = households[1 + (index % POWER_TRADER_COUNTERPARTS)].userId;
      const selling = index % 3 !== 2; // two sales for each purchase
      return {
        buyer: selling ? counterpart : trader.userId,
        seller: selling ? trader.userId : counterpart,
        at: new Date(trader.joinedAt.getTime() + POWER_TRADER_OFFERS * HOUR_MS + index * 10 * MINUTE_MS),
        microKwh: 100_000 + ((index * 7_919) % 9_900_000),
        priceCents: 100_000 + ((index * 104_729) % 150_000),
      };
    });
    return [
      { label: 'wallets', entity: Wallet, owner: 'user', rows: households.map(h => h.wallet) },
      { label: 'smart meters', entity: SmartMeter, owner: 'user', rows: households.map(h => h.meter) },
      { label: 'offers', entity: MarketOffer, owner: 'seller', rows: offers },
      { label: 'trades', entity: MarketTrade, owner: 'seller', rows: trades },
      { label: 'transaction logs', entity: TransactionLog, owner: 'user', rows: logs },
    ];
  },
};

// the columns' limits: numeric(20,6) energy, numeric(20,2) IDRS, numeric(10,3) capacity
const MAX_KWH = '99999999999999.999999';
const MAX_IDRS = '999999999999999999.99';
const MAX_CAPACITY_KW = '9999999.999';

const boundaryAmounts: ScenarioDefinition = {
  name: 'boundary-amounts',
  seederClass: 'BoundaryAmountsSeeder',
  shows: 'a wallet at zero, one at the columns\' precision limits and one at the smallest non-zero amounts, with offers, a settlement, conversions and trades at those amounts',
  fixtures: { namespace: 102, login: { userId: 'user_boundary', name: 'Boundary Amounts', email: 'boundary@enerlink.example' } },
  households: 3,
  tables(em, fixtures) {
    const [zero, max, min] = householdRows(em, fixtures, this.households);
    for (const h of [zero, max, min]) Object.assign(h.wallet, { isActive: true }), Object.assign(h.meter, { status: 'ACTIVE' });
    Object.assign(zero.wallet, { energyBalance: '0.000000', idrsBalance: '0.00' });
    Object.assign(max.wallet, { energyBalance: MAX_KWH, idrsBalance: MAX_IDRS });
    Object.assign(min.wallet, { energyBalance: '0.000001', idrsBalance: '0.01' });
    Object.assign(zero.meter, { capacityKw: '0.000' });
    Object.assign(max.meter, { capacityKw: MAX_CAPACITY_KW });
    Object.assign(min.meter, { capacityKw: '0.001' });
    const at = (h: typeof zero, minutes: number) => new Date(h.joinedAt.getTime() + minutes * MINUTE_MS);
    const offer = (h: typeof zero, energy: string, price: string) => ({
      seller: h.userId, energyKwh: energy, remainingKwh: energy, priceIdrsPerKwh: price, status: 'OPEN', expiresAt: FIXTURE_OFFER_EXPIRY, createdAt: at(h, 180), updatedAt: at(h, 180),
    });
    const hour = (h: typeof zero) => Math.ceil(h.joinedAt.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS;
    const settlement = (h: typeof zero, netKwh: string) => ({
      meter: h.meter.meterId, periodStart: new Date(hour(h)), periodEnd: new Date(hour(h) + HOUR_MS), netKwh, status: 'SETTLED', createdAt: new Date(hour(h) + HOUR_MS),
    });
    const conversion = (h: typeof zero, amount: string, tag: string) => ({
      user: h.userId, wallet: h.wallet.walletAddress, conversionType: 'ON_RAMP', idrAmount: amount, idrsAmount: amount, exchangeRate: '1.00000000',
      status: 'COMPLETED', createdAt: at(h, 1), paymentId: `fixture_boundary_${tag}_${fixtures.seed}`, settledBy: 'gateway', settledAt: at(h, 2),
    });
    const { trades, logs } = tradeRows(fixtures, 2, index =>
      index === 0
        ? // the smallest trade: its total rounds to 0.00 IDRS
          { buyer: max.userId, seller: min.userId, at: at(min, 240), microKwh: 1, priceCents: 1 }
        : { buyer: min.userId, seller: max.userId, at: at(max, 240), microKwh: 100_000_000_000, priceCents: 100_000_000 },
    );
    return [
      { label: 'wallets', entity: Wallet, owner: 'user', rows: [zero.wallet, max.wallet, min.wallet] },
      { label: 'smart meters', entity: SmartMeter, owner: 'user', rows: [zero.meter, max.meter, min.meter] },
      // within capacity: capacity x 1 h, the most a meter may export in an hour
      { label: 'settlements', entity: EnergySettlement, owner: 'meter', ownerUser: row => [max, min].find(h => h.meter.meterId === row.meter)!.userId, rows: [settlement(max, '9999999.999000'), settlement(min, '0.001000')] },
      { label: 'conversions', entity: IdrsConversion, owner: 'user', rows: [conversion(max, MAX_IDRS, 'max'), conversion(min, '0.01', 'min')] },
      { label: 'offers', entity: MarketOffer, owner: 'seller', rows: [offer(max, MAX_KWH, MAX_IDRS), offer(min, '0.000001', '0.01')] },
      { label: 'trades', entity: MarketTrade, owner: 'seller', rows: trades },
      { label: 'transaction logs', entity: TransactionLog, owner: 'user', rows: logs },
    ];
  },
};

const lifecycle: ScenarioDefinition = {
  name: 'lifecycle',
  seederClass: 'LifecycleSeeder',
  shows: 'inactive wallets, meters inactive and in maintenance, revoked tokens, and pending, failed and completed conversions',
  fixtures: { namespace: 103, login: { userId: 'user_lifecycle', name: 'Lifecycle', email: 'lifecycle@enerlink.example' } },
  households: 6,
  tables(em, fixtures) {
    const households = householdRows(em, fixtures, this.households);
    // household 0 (the login) holds a bit of everything; 1..5 one state each
    const states = [
      { active: true, meter: 'MAINTENANCE' },
      { active: false, meter: 'ACTIVE' },
      { active: false, meter: 'INACTIVE' },
      { active: true, meter: 'MAINTENANCE' },
      { active: true, meter: 'INACTIVE' },
      { active: false, meter: 'MAINTENANCE' },
    ];
    households.forEach((h, i) => Object.assign(h.wallet, { isActive: states[i].active }) && Object.assign(h.meter, { status: states[i].meter }));
    const conversions: Array<EntityData<any>> = [];
    const tokens: Array<EntityData<any>> = [];
    households.forEach((h, i) => {
      const at = (minutes: number) => new Date(h.joinedAt.getTime() + minutes * MINUTE_MS);
      const base = { user: h.userId, wallet: h.wallet.walletAddress, exchangeRate: '1.00000000' };
      const faker = fixtures.fakerFor(FixtureStream.conversions, i);
      const paymentId = (tag: string) => `fixture_${tag}_${randomDigits(faker, 20, 36)}`;
      // pending: requested, no payment yet
      conversions.push({ ...base, conversionType: 'ON_RAMP', idrAmount: '150000.00', idrsAmount: '150000.00', status: 'PENDING', createdAt: at(5) });
      if (i % 2 === 0) {
        conversions.push({ ...base, conversionType: 'ON_RAMP', idrAmount: '250000.00', idrsAmount: '250000.00', status: 'FAILED', createdAt: at(10), paymentId: paymentId('failed'), settledBy: 'gateway', settledAt: at(11) });
        conversions.push({ ...base, conversionType: 'OFF_RAMP', idrAmount: '50000.00', idrsAmount: '50000.00', status: 'PENDING', createdAt: at(15) });
      }
      if (i === 0) {
        conversions.push({ ...base, conversionType: 'ON_RAMP', idrAmount: '500000.00', idrsAmount: '500000.00', status: 'COMPLETED', createdAt: at(20), paymentId: paymentId('paid'), settledBy: 'gateway', settledAt: at(21) });
      }
      // revoked tokens: hashes of nothing anyone holds; one still refused, one past its expiry
      for (const [n, reason, expiresAt] of [[0, 'LOGOUT', FIXTURE_OFFER_EXPIRY], [1, 'REVOKED', at(60)]] as const) {
        tokens.push({ user: h.userId, tokenHash: randomDigits(fixtures.fakerFor(FixtureStream.users, i), 64, 16) + String(n), reason, expiresAt, createdAt: at(30 + n) });
      }
    });
    return [
      { label: 'wallets', entity: Wallet, owner: 'user', rows: households.map(h => h.wallet) },
      { label: 'smart meters', entity: SmartMeter, owner: 'user', rows: households.map(h => h.meter) },
      { label: 'conversions', entity: IdrsConversion, owner: 'user', rows: conversions },
      { label: 'revoked tokens', entity: TokenBlacklist, owner: 'user', rows: tokens },
    ];
  },
};

const QUARTER_MS = 15 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** Western Indonesia Time: the fixture meters are Indonesian rooftops. */
const WIB_OFFSET_MS = 7 * HOUR_MS;
const SETTLEMENT_HEAVY_METERS = 3;
const SETTLEMENT_HEAVY_DAYS = 92;
/** Daylight, 06:00 to 18:00 WIB: a rooftop exports nothing at night, and a settlement is never of zero energy. */
const DAYLIGHT_QUARTERS = 48;

const settlementHeavy: ScenarioDefinition = {
  name: 'settlement-heavy',
  seederClass: 'SettlementHeavySeeder',
  shows: `one household with ${SETTLEMENT_HEAVY_METERS} active meters, each with ${SETTLEMENT_HEAVY_DAYS} days of 15-minute settlements in daylight (${(SETTLEMENT_HEAVY_METERS * SETTLEMENT_HEAVY_DAYS * DAYLIGHT_QUARTERS).toLocaleString('en')} in all) within its capacity, each with its ledger row; the wallet holds exactly what they credited`,
  fixtures: { namespace: 104, login: { userId: 'user_settlement_heavy', name: 'Settlement Heavy', email: 'settlement-heavy@enerlink.example' } },
  households: 1,
  tables(em, fixtures) {
    const [household] = householdRows(em, fixtures, this.households);
    const meterFactory = new SmartMeterFactory(em, fixtures);
    // the household's meters: rows 0 .. n-1 of the meter stream, all its own
    const meters = Array.from({ length: SETTLEMENT_HEAVY_METERS }, (_, index) =>
      Object.assign(index === 0 ? household.meter : meterFactory.row(index), { user: household.userId, status: 'ACTIVE' }),
    );
    // the first WIB day after the household joined and claimed its meters
    const firstDay = Math.ceil((household.joinedAt.getTime() + WIB_OFFSET_MS) / DAY_MS) * DAY_MS - WIB_OFFSET_MS;
    const settlements: Array<EntityData<any>> = [];
    const logs: Array<EntityData<any>> = [];
    let creditedMicroKwh = 0;
    meters.forEach((meter, m) => {
      // kW x 0.25 h: the most a meter may export in a quarter, in micro-kWh, exactly
      const capacityWatts = Math.round(Number(meter.capacityKw) * 1000);
      const mostMicroKwh = capacityWatts * 250;
      for (let day = 0; day < SETTLEMENT_HEAVY_DAYS; day++) {
        const faker = fixtures.fakerFor(FixtureStream.settlements, m * SETTLEMENT_HEAVY_DAYS + day);
        const sky = faker.number.float({ min: 0.35, max: 1 }); // the day's cloud cover
        const dawn = firstDay + day * DAY_MS + 6 * HOUR_MS;
        for (let quarter = 0; quarter < DAYLIGHT_QUARTERS; quarter++) {
          const sun = Math.sin((Math.PI * (quarter + 0.5)) / DAYLIGHT_QUARTERS);
          const microKwh = Math.max(1, Math.min(mostMicroKwh, Math.floor(mostMicroKwh * sun * sky * faker.number.float({ min: 0.8, max: 1 }))));
          const periodStart = new Date(dawn + quarter * QUARTER_MS);
          const periodEnd = new Date(dawn + (quarter + 1) * QUARTER_MS);
          const netKwh = decimal(microKwh, 6);
          creditedMicroKwh += microKwh;
          settlements.push({ meter: meter.meterId, periodStart, periodEnd, netKwh, status: 'SETTLED', createdAt: periodEnd });
          logs.push({
            user: household.userId,
            transactionType: 'ENERGY_SETTLEMENT',
            description: `settlement of meter ${meter.meterId}: exported ${netKwh} kWh from ${periodStart.toISOString()} to ${periodEnd.toISOString()}`,
            amount: netKwh,
            currency: 'KWH',
            transactionTimestamp: periodEnd,
          });
        }
      }
    });
    Object.assign(household.wallet, { isActive: true, energyBalance: decimal(creditedMicroKwh, 6) });
    return [
      { label: 'wallets', entity: Wallet, owner: 'user', rows: [household.wallet] },
      { label: 'smart meters', entity: SmartMeter, owner: 'user', rows: meters },
      { label: 'settlements', entity: EnergySettlement, owner: 'meter', ownerUser: () => household.userId, rows: settlements },
      { label: 'transaction logs', entity: TransactionLog, owner: 'user', rows: logs },
    ];
  },
};

const largeMarket: StreamedScenarioDefinition = {
  name: 'large-market',
  seederClass: 'LargeMarketSeeder',
  streamed: true,
  shows: 'a market of as many households as --users asks (each a user, wallet, claimed meter, settlement, paid ON_RAMP and offer), and --trades trades between them, for benchmarks',
  fixtures: { namespace: 105, login: { userId: 'user_large_market', name: 'Large Market', email: 'large-market@enerlink.example' } },
};

/** Every named scenario, by name. */
export const SCENARIOS: Record<ScenarioName, ScenarioDefinition | StreamedScenarioDefinition> = {
  'power-trader': powerTrader,
  'boundary-amounts': boundaryAmounts,
  lifecycle,
  'settlement-heavy': settlementHeavy,
  'large-market': largeMarket,
};

/** The fixture set of `scenario` (the base set when undefined) for `seed`. */
export function fixturesOf(scenario: ScenarioName | undefined, seed: number, passwordHash: string): FixtureSet {
  return new FixtureSet(seed, passwordHash, scenario ? SCENARIOS[scenario].fixtures : undefined);
}
