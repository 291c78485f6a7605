import type { EntityData, EntityManager } from '@mikro-orm/core';
import { IdrsConversion, type IIdrsConversion } from '../../src/idrs/idrs-conversion.entity.ts';
import { FixtureStream, randomDigits, type FixtureSet } from '../../src/seeding/fixture-set.ts';
import { FixtureFactory } from './fixture-factory.ts';
import type { WalletFactory } from './WalletFactory.ts';

const MINUTE_MS = 60_000;

/**
 * The ON_RAMP that funded household `index`'s wallet: its IDRS balance (at least 1.00), paid and
 * confirmed by the gateway a minute after the request. The gateway's payment id identifies it.
 */
export class IdrsConversionFactory extends FixtureFactory<IIdrsConversion> {
  readonly model = IdrsConversion;
  readonly #wallets: WalletFactory;

  constructor(em: EntityManager, fixtures: FixtureSet, wallets: WalletFactory) {
    super(em, fixtures);
    this.#wallets = wallets;
  }

  row(index: number): EntityData<IIdrsConversion> {
    const wallet = this.#wallets.row(index);
    const { joinedAt } = this.fixtures.household(index);
    const faker = this.fixtures.fakerFor(FixtureStream.conversions, index);
    const amount = Number(wallet.idrsBalance) >= 1 ? (wallet.idrsBalance as string) : '1.00';
    return {
      user: wallet.user,
      wallet: wallet.walletAddress,
      conversionType: 'ON_RAMP',
      idrAmount: amount,
      idrsAmount: amount,
      exchangeRate: '1.00000000',
      status: 'COMPLETED',
      createdAt: new Date(joinedAt.getTime() + MINUTE_MS),
      paymentId: `fixture_${randomDigits(faker, 24, 36)}`,
      settledBy: 'gateway',
      settledAt: new Date(joinedAt.getTime() + 2 * MINUTE_MS),
    };
  }
}
