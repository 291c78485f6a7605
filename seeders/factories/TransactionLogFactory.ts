import type { EntityData, EntityManager } from '@mikro-orm/core';
import type { FixtureSet } from '../../src/seeding/fixture-set.ts';
import { TransactionLog, type ITransactionLog } from '../../src/ledger/transaction-log.entity.ts';
import { FixtureFactory } from './fixture-factory.ts';
import type { MarketTradeFactory } from './MarketTradeFactory.ts';

/** The two ledger sides of each fixture trade: row 2n is trade n's TRADE_BUY, row 2n + 1 its TRADE_SELL. */
export class TransactionLogFactory extends FixtureFactory<ITransactionLog> {
  readonly model = TransactionLog;
  readonly #trades: MarketTradeFactory;

  constructor(em: EntityManager, fixtures: FixtureSet, trades: MarketTradeFactory) {
    super(em, fixtures);
    this.#trades = trades;
  }

  row(index: number): EntityData<ITransactionLog> {
    const trade = this.#trades.row(Math.floor(index / 2));
    const buying = index % 2 === 0;
    return {
      user: buying ? trade.buyer : trade.seller,
      transactionType: buying ? 'TRADE_BUY' : 'TRADE_SELL',
      description: buying ? `Bought ${trade.tradedEnergyKwh} kWh from ${trade.seller}` : `Sold ${trade.tradedEnergyKwh} kWh to ${trade.buyer}`,
      amount: trade.totalIdrs,
      currency: 'IDRS',
      txHash: trade.txHash,
      transactionTimestamp: trade.tradeTimestamp,
    };
  }
}
