import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';
import { MarketOffer } from './market-offer.entity.ts';

/** A settled purchase of energy by one user from another's offer, at the offer's price in IDRS. */
export const MarketTrade = defineEntity({
  name: 'MarketTrade',
  tableName: 'market_trade',
  indexes: [
    { name: 'idx_markettrade_buyer_user', properties: ['buyer'] },
    { name: 'idx_markettrade_seller_user', properties: ['seller'] },
    { name: 'idx_markettrade_offer_id', properties: ['offer'] },
  ],
  properties: {
    tradeId: p.bigint('string').primary().autoincrement(),
    buyer: () =>
      p
        .manyToOne(User)
        .fieldName('buyer_user_id')
        .foreignKeyName('market_trade_buyer_user_id_fkey')
        .deleteRule('cascade')
        .comment('User ID of the buyer'),
    seller: () =>
      p
        .manyToOne(User)
        .fieldName('seller_user_id')
        .foreignKeyName('market_trade_seller_user_id_fkey')
        .deleteRule('cascade')
        .comment('User ID of the seller'),
    tradedEnergyKwh: p.decimal().precision(20).scale(6),
    priceIdrsPerKwh: p.decimal().precision(20).scale(2),
    totalIdrs: p.decimal().precision(20).scale(2),
    txHash: p.string().length(66).nullable(),
    tradeTimestamp: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    /** The offer the trade took; null for trades from before offers. */
    offer: () => p.manyToOne(MarketOffer).fieldName('offer_id').foreignKeyName('market_trade_offer_id_fkey').deleteRule('set null').nullable(),
  },
});

export type IMarketTrade = InferEntity<typeof MarketTrade>;
