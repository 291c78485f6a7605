import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** What an offer can be; an OPEN offer past its expiry is shown as EXPIRED and can no longer be taken. */
export const OFFER_STATUSES = ['OPEN', 'FILLED', 'CANCELLED'] as const;
export type OfferStatus = (typeof OFFER_STATUSES)[number];

/**
 * Energy a seller offers at a fixed price until it expires. While it is open and unexpired its
 * remaining energy is reserved: the seller cannot offer it twice, and buyers take from it.
 */
export const MarketOffer = defineEntity({
  name: 'MarketOffer',
  tableName: 'market_offer',
  indexes: [
    { name: 'idx_marketoffer_open_price', properties: ['priceIdrsPerKwh', 'offerId'], where: "status = 'OPEN'" },
    { name: 'idx_marketoffer_seller', properties: ['seller', 'status'] },
  ],
  properties: {
    offerId: p.bigint('string').primary().autoincrement(),
    seller: () => p.manyToOne(User).fieldName('seller_user_id').foreignKeyName('market_offer_seller_user_id_fkey').deleteRule('cascade'),
    energyKwh: p.decimal().precision(20).scale(6),
    remainingKwh: p
      .decimal()
      .precision(20)
      .scale(6)
      .comment("Energy still offered, reserved from the seller's balance while the offer is open and unexpired"),
    priceIdrsPerKwh: p.decimal().precision(20).scale(2),
    status: p.string().length(20).default('OPEN'),
    expiresAt: p.datetime(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type IMarketOffer = InferEntity<typeof MarketOffer>;
