import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InsufficientBalanceError, InvalidPeriodError, OfferNotFoundError, OfferUnavailableError } from '../errors.ts';
import type { PageQuery } from '../http/schemas.ts';
import { Decimal, ENERGY, fixed, IDRS, positiveAmount } from '../ledger/amounts.ts';
import { limitExceeded, limitsOf } from '../limits/limits.service.ts';
import { User } from '../users/user.entity.ts';
import { lockTradingWallets, tradingWalletOf } from '../wallets/wallet.service.ts';
import { MarketOffer, type IMarketOffer } from './market-offer.entity.ts';

/** Longest an offer stays open: energy reserved for longer is energy kept off the market. */
export const MAX_OFFER_TTL_MS = 30 * 86_400_000;

/** What a seller publishes: energy and price as decimal text, and when the offer ends. */
export interface OfferRequest {
  energyKwh: string;
  priceIdrsPerKwh: string;
  expiresAt: string;
}

/** An offer's state as the API shows it: an open offer past its expiry is EXPIRED. */
export type OfferState = 'OPEN' | 'FILLED' | 'CANCELLED' | 'EXPIRED';

export interface OfferView {
  offerId: string;
  sellerUserId: string;
  energyKwh: string;
  remainingKwh: string;
  priceIdrsPerKwh: string;
  status: OfferState;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
}

/** Whether the offer can be taken now. */
export function isOpen(offer: IMarketOffer, now = Date.now()): boolean {
  return offer.status === 'OPEN' && offer.expiresAt.getTime() > now;
}

export function toOfferView(offer: IMarketOffer): OfferView {
  const expired = offer.status === 'OPEN' && !isOpen(offer);
  return {
    offerId: offer.offerId,
    sellerUserId: offer.seller.userId,
    energyKwh: offer.energyKwh,
    remainingKwh: offer.remainingKwh,
    priceIdrsPerKwh: offer.priceIdrsPerKwh,
    status: expired ? 'EXPIRED' : (offer.status as OfferState),
    expiresAt: offer.expiresAt.toISOString(),
    createdAt: offer.createdAt.toISOString(),
    updatedAt: offer.updatedAt.toISOString(),
  };
}

/** The condition of the offers that reserve energy now: open and unexpired. */
const openNow = () => ({ status: 'OPEN', expiresAt: { $gt: new Date() } });

/**
 * The energy the seller's open offers reserve. Read under the lock of the seller's trading
 * wallet (every change of what is reserved takes it too, or the offer's own row lock inside it).
 */
async function reservedKwh(tx: EntityManager, sellerUserId: string): Promise<{ reserved: Decimal; open: number }> {
  const offers = await tx.find(MarketOffer, { seller: sellerUserId, ...openNow() }, { fields: ['remainingKwh'] });
  return { reserved: offers.reduce((sum, offer) => sum.plus(offer.remainingKwh), new Decimal(0)), open: offers.length };
}

/**
 * Publishes an offer: the seller's trading wallet is locked, and the offer must fit in the
 * energy not reserved by their other open offers, their open-offer count and trade size limits.
 * Nothing moves yet: the energy stays in the wallet, reserved, until a buyer takes it.
 */
export async function publishOffer(em: EntityManager, sellerUserId: string, request: OfferRequest): Promise<IMarketOffer> {
  const energy = positiveAmount(request.energyKwh, 'energyKwh');
  const price = positiveAmount(request.priceIdrsPerKwh, 'priceIdrsPerKwh');
  const expiresAt = new Date(request.expiresAt);
  const now = Date.now();
  if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= now) throw new InvalidPeriodError(`expiresAt ${request.expiresAt} must be in the future`);
  if (expiresAt.getTime() > now + MAX_OFFER_TTL_MS) {
    throw new InvalidPeriodError(`expiresAt ${request.expiresAt} is more than ${MAX_OFFER_TTL_MS / 86_400_000} days away: an offer runs 30 days at most`);
  }

  return em.transactional(async tx => {
    const wallet = tradingWalletOf(await lockTradingWallets(tx, [sellerUserId]), sellerUserId);
    const limits = await limitsOf(tx, sellerUserId);
    if (energy.gt(limits.maxTradeKwh)) throw limitExceeded('maxTradeKwh', limits.maxTradeKwh, `An offer of ${energy.toFixed()} kWh is larger than one trade may be`);
    const { reserved, open } = await reservedKwh(tx, sellerUserId);
    if (open >= limits.maxOpenOffers) throw limitExceeded('maxOpenOffers', limits.maxOpenOffers, `You already have ${open} open offers`);
    const available = new Decimal(wallet.energyBalance).minus(reserved);
    if (available.lt(energy)) {
      throw new InsufficientBalanceError(
        `You have ${available.toFixed(ENERGY.scale)} kWh not already offered (balance ${wallet.energyBalance}, reserved by open offers ${reserved.toFixed(ENERGY.scale)}), less than ${energy.toFixed(ENERGY.scale)}`,
      );
    }
    const offer = tx.create(MarketOffer, {
      seller: tx.getReference(User, sellerUserId),
      energyKwh: fixed(ENERGY, energy),
      remainingKwh: fixed(ENERGY, energy),
      priceIdrsPerKwh: fixed(IDRS, price),
      status: 'OPEN',
      expiresAt,
    });
    await tx.flush();
    return offer;
  });
}

/** Cancels one of the seller's open offers: what remains of it is no longer reserved. */
export async function cancelOffer(em: EntityManager, sellerUserId: string, offerId: string): Promise<IMarketOffer> {
  return em.transactional(async tx => {
    const offer = await tx.findOne(MarketOffer, { offerId, seller: sellerUserId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!offer) throw new OfferNotFoundError(offerId);
    if (offer.status !== 'OPEN') throw new OfferUnavailableError(`Offer ${offerId} is ${offer.status}: only an open offer can be cancelled`);
    offer.status = 'CANCELLED';
    await tx.flush();
    return offer;
  });
}

/** Open offers, cheapest first (then oldest), and how many there are. */
export async function listOpenOffers(em: EntityManager, page: PageQuery): Promise<{ offers: IMarketOffer[]; total: number }> {
  const [offers, total] = await em.findAndCount(MarketOffer, openNow(), { orderBy: { priceIdrsPerKwh: 'asc', offerId: 'asc' }, ...page });
  return { offers, total };
}

/** The user's own offers in any state, newest first. */
export async function listOwnOffers(em: EntityManager, userId: string, page: PageQuery): Promise<{ offers: IMarketOffer[]; total: number }> {
  const [offers, total] = await em.findAndCount(MarketOffer, { seller: userId }, { orderBy: { offerId: 'desc' }, ...page });
  return { offers, total };
}

/** An offer anyone may see (an open one) or the caller's own in any state; any other is "not found". */
export async function findOffer(em: EntityManager, userId: string, offerId: string): Promise<IMarketOffer> {
  const offer = await em.findOne(MarketOffer, { offerId });
  if (!offer || (offer.seller.userId !== userId && !isOpen(offer))) throw new OfferNotFoundError(offerId);
  return offer;
}
