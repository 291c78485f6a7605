import type { EntityData, EntityManager } from '@mikro-orm/core';
import { decimal, FIXTURE_OFFER_EXPIRY, FixtureStream, type FixtureSet } from '../../src/seeding/fixture-set.ts';
import { MarketOffer, type IMarketOffer } from '../../src/trading/market-offer.entity.ts';
import { FixtureFactory } from './fixture-factory.ts';
import type { WalletFactory } from './WalletFactory.ts';

const HOUR_MS = 3_600_000;

/**
 * Household `index`'s offer: 10 to 30% of its wallet's energy at 1,000 to 2,500 IDRS/kWh, open
 * until FIXTURE_OFFER_EXPIRY; CANCELLED when the wallet is inactive or holds too little energy
 * (an open offer never reserves more than its seller has).
 */
export class MarketOfferFactory extends FixtureFactory<IMarketOffer> {
  readonly model = MarketOffer;
  readonly #wallets: WalletFactory;

  constructor(em: EntityManager, fixtures: FixtureSet, wallets: WalletFactory) {
    super(em, fixtures);
    this.#wallets = wallets;
  }

  row(index: number): EntityData<IMarketOffer> {
    const wallet = this.#wallets.row(index);
    const { joinedAt } = this.fixtures.household(index);
    const faker = this.fixtures.fakerFor(FixtureStream.offers, index);
    const balanceMicroKwh = Math.round(Number(wallet.energyBalance) * 1_000_000);
    const share = faker.number.int({ min: 10, max: 30 });
    const microKwh = Math.max(1, Math.floor((balanceMicroKwh * share) / 100));
    const energy = decimal(microKwh, 6);
    return {
      seller: wallet.user,
      energyKwh: energy,
      remainingKwh: energy,
      priceIdrsPerKwh: decimal(faker.number.int({ min: 100_000, max: 250_000 }), 2),
      status: wallet.isActive && microKwh <= balanceMicroKwh ? 'OPEN' : 'CANCELLED',
      expiresAt: FIXTURE_OFFER_EXPIRY,
      createdAt: new Date(joinedAt.getTime() + 3 * HOUR_MS),
      updatedAt: new Date(joinedAt.getTime() + 3 * HOUR_MS),
    };
  }
}
