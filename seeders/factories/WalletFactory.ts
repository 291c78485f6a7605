import type { EntityData } from '@mikro-orm/core';
import { decimal, FixtureStream, randomDigits } from '../../src/seeding/fixture-set.ts';
import { Wallet, type IWallet } from '../../src/wallets/wallet.entity.ts';
import { FixtureFactory } from './fixture-factory.ts';

/** Household `index`'s wallet: an Ethereum-style address (0x + 40 hex), energy credits and IDRS. */
export class WalletFactory extends FixtureFactory<IWallet> {
  readonly model = Wallet;

  row(index: number): EntityData<IWallet> {
    const { userId, joinedAt } = this.fixtures.household(index);
    const faker = this.fixtures.fakerFor(FixtureStream.wallets, index);
    return {
      walletAddress: `0x${randomDigits(faker, 40, 16)}`,
      user: userId,
      walletName: faker.helpers.arrayElement(WALLET_NAMES),
      energyBalance: decimal(faker.number.int(500_000_000), 6), // up to 500 kWh
      idrsBalance: decimal(faker.number.int(500_000_000), 2), // up to 5 million IDRS
      isActive: faker.datatype.boolean(0.95),
      createdAt: joinedAt,
      updatedAt: joinedAt,
    };
  }
}

const WALLET_NAMES = ['Main wallet', 'Rooftop solar', 'Household', 'Savings', 'Energy credits'];
