import type { EntityData, EntityManager } from '@mikro-orm/core';
import { decimal, FixtureStream, randomDigits, type FixtureSet } from '../../src/seeding/fixture-set.ts';
import { MarketTrade, type IMarketTrade } from '../../src/trading/market-trade.entity.ts';
import { FixtureFactory } from './fixture-factory.ts';

const DAY_MS = 86_400_000;

/**
 * Settled trades between two distinct households of the first `households` of the set, after
 * both joined. The tx hash (0x + 64 hex) identifies a trade: a second run skips the ones present.
 */
export class MarketTradeFactory extends FixtureFactory<IMarketTrade> {
  readonly model = MarketTrade;
  readonly #households: number;

  constructor(em: EntityManager, fixtures: FixtureSet, households: number) {
    super(em, fixtures);
    if (households < 2) throw new RangeError('trades need at least 2 users');
    this.#households = households;
  }

  row(index: number): EntityData<IMarketTrade> {
    const faker = this.fixtures.fakerFor(FixtureStream.trades, index);
    const buyerIndex = faker.number.int(this.#households - 1);
    const sellerIndex = (buyerIndex + 1 + faker.number.int(this.#households - 2)) % this.#households;
    const microKwh = faker.number.int({ min: 100_000, max: 25_000_000 }); // 0.1 to 25 kWh
    const priceCents = faker.number.int({ min: 100_000, max: 250_000 }); // 1,000 to 2,500 IDRS per kWh
    const txHash = `0x${randomDigits(faker, 64, 16)}`;
    const delayMs = faker.number.int(30 * DAY_MS);
    const buyer = this.fixtures.household(buyerIndex);
    const seller = this.fixtures.household(sellerIndex);
    const bothJoinedMs = Math.max(buyer.joinedAt.getTime(), seller.joinedAt.getTime());
    return {
      buyer: buyer.userId,
      seller: seller.userId,
      tradedEnergyKwh: decimal(microKwh, 6),
      priceIdrsPerKwh: decimal(priceCents, 2),
      totalIdrs: decimal(Math.round((microKwh * priceCents) / 1_000_000), 2),
      txHash,
      tradeTimestamp: new Date(bothJoinedMs + delayMs),
    };
  }
}
