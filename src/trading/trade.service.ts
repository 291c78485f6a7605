import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InsufficientBalanceError, InvalidAmountError, OfferNotFoundError, OfferUnavailableError, SelfTradeError, TradeNotFoundError } from '../errors.ts';
import type { PageQuery } from '../http/schemas.ts';
import { Decimal, ENERGY, fixed, IDRS, LOG_AMOUNT, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { limitExceeded, limitsOf } from '../limits/limits.service.ts';
import { User } from '../users/user.entity.ts';
import { lockTradingWallets, tradingWalletOf } from '../wallets/wallet.service.ts';
import { MarketOffer } from './market-offer.entity.ts';
import { MarketTrade, type IMarketTrade } from './market-trade.entity.ts';
import { isOpen, toOfferView } from './offer.service.ts';

/** What a buyer takes: energy (decimal text) of one offer, at the offer's price. */
export interface TakeRequest {
  offerId: string;
  energyKwh: string;
}

/** A trade as one of its two sides sees it. */
export interface TradeView {
  tradeId: string;
  role: 'BUYER' | 'SELLER';
  buyerUserId: string;
  sellerUserId: string;
  energyKwh: string;
  priceIdrsPerKwh: string;
  totalIdrs: string;
  tradeTimestamp: string;
  /** The offer taken; null for a trade from before offers. */
  offerId: string | null;
}

export function toTradeView(trade: IMarketTrade, userId: string): TradeView {
  return {
    tradeId: trade.tradeId,
    role: trade.buyer.userId === userId ? 'BUYER' : 'SELLER',
    buyerUserId: trade.buyer.userId,
    sellerUserId: trade.seller.userId,
    energyKwh: trade.tradedEnergyKwh,
    priceIdrsPerKwh: trade.priceIdrsPerKwh,
    totalIdrs: trade.totalIdrs,
    tradeTimestamp: trade.tradeTimestamp.toISOString(),
    offerId: trade.offer?.offerId ?? null,
  };
}

/** What a trade costs: energy x price, rounded half-up to the cent (IDRS has 2 decimals). */
export function tradeTotal(energyKwh: Decimal, priceIdrsPerKwh: Decimal): Decimal {
  return energyKwh.times(priceIdrsPerKwh).toDecimalPlaces(IDRS.scale, Decimal.ROUND_HALF_UP);
}

/**
 * The caller takes `energyKwh` of an offer at its price, in one transaction: both trading
 * wallets are locked (FOR UPDATE, in address order), then the offer row; the offer must be open,
 * unexpired and hold the energy, the buyer's trade size limit allow it and their IDRS cover it.
 * Energy moves seller -> buyer and IDRS buyer -> seller, the offer's remaining energy goes down
 * (FILLED at zero), and the trade is inserted with one transaction_log row per side. Any refusal
 * rolls everything back. Many buyers on one offer queue on its row: none can take what another took.
 */
export async function takeOffer(em: EntityManager, buyerUserId: string, request: TakeRequest): Promise<TradeView> {
  const energy = positiveAmount(request.energyKwh, 'energyKwh');

  return em.transactional(async tx => {
    const listed = await tx.findOne(MarketOffer, { offerId: request.offerId });
    if (!listed) throw new OfferNotFoundError(request.offerId);
    const sellerUserId = listed.seller.userId;
    if (sellerUserId === buyerUserId) throw new SelfTradeError();
    // wallets first, in address order, as every other writer of them; then the offer
    const wallets = await lockTradingWallets(tx, [buyerUserId, sellerUserId]);
    const offer = (await tx.findOne(MarketOffer, { offerId: request.offerId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
    if (!isOpen(offer)) throw new OfferUnavailableError(`Offer ${offer.offerId} is ${toOfferView(offer).status}: it can no longer be taken`);
    const remaining = new Decimal(offer.remainingKwh);
    if (remaining.lt(energy)) {
      throw new OfferUnavailableError(`Offer ${offer.offerId} has ${offer.remainingKwh} kWh left, less than ${energy.toFixed(ENERGY.scale)}`);
    }
    const { maxTradeKwh } = await limitsOf(tx, buyerUserId);
    if (energy.gt(maxTradeKwh)) throw limitExceeded('maxTradeKwh', maxTradeKwh, `A trade of ${energy.toFixed()} kWh is larger than one trade may be`);
    const price = new Decimal(offer.priceIdrsPerKwh);
    const total = tradeTotal(energy, price);
    if (total.isZero()) throw new InvalidAmountError('The total rounds to 0.00 IDRS: take more energy');
    if (total.gt(LOG_AMOUNT.max)) throw new InvalidAmountError(`The total ${total.toFixed(2)} IDRS is above the limit of one trade`);
    const buyerWallet = tradingWalletOf(wallets, buyerUserId);
    const sellerWallet = tradingWalletOf(wallets, sellerUserId);

    const sellerEnergy = new Decimal(sellerWallet.energyBalance);
    const buyerIdrs = new Decimal(buyerWallet.idrsBalance);
    // The offer reserves the energy, so this holds unless the seller's trading wallet changed;
    // the seller's balance is not the buyer's business: the message does not give it.
    if (sellerEnergy.lt(energy)) throw new OfferUnavailableError(`The seller of offer ${offer.offerId} no longer holds ${energy.toFixed(ENERGY.scale)} kWh`);
    if (buyerIdrs.lt(total)) {
      throw new InsufficientBalanceError(`Your IDRS balance ${buyerWallet.idrsBalance} does not cover the total ${total.toFixed(IDRS.scale)} IDRS`);
    }
    sellerWallet.energyBalance = fixed(ENERGY, sellerEnergy.minus(energy));
    buyerWallet.energyBalance = fixed(ENERGY, new Decimal(buyerWallet.energyBalance).plus(energy));
    buyerWallet.idrsBalance = fixed(IDRS, buyerIdrs.minus(total));
    sellerWallet.idrsBalance = fixed(IDRS, new Decimal(sellerWallet.idrsBalance).plus(total));
    offer.remainingKwh = fixed(ENERGY, remaining.minus(energy));
    if (remaining.eq(energy)) offer.status = 'FILLED';

    const trade = tx.create(MarketTrade, {
      buyer: tx.getReference(User, buyerUserId),
      seller: tx.getReference(User, sellerUserId),
      tradedEnergyKwh: fixed(ENERGY, energy),
      priceIdrsPerKwh: offer.priceIdrsPerKwh,
      totalIdrs: fixed(IDRS, total),
      offer,
    });
    await tx.flush(); // the log rows name the trade id
    const terms = `${trade.tradedEnergyKwh} kWh at ${trade.priceIdrsPerKwh} IDRS/kWh`;
    recordMovement(tx, {
      userId: buyerUserId,
      type: 'TRADE_BUY',
      amount: total.negated().toFixed(IDRS.scale),
      currency: 'IDRS',
      description: `trade ${trade.tradeId}: bought ${terms} from ${sellerUserId} (offer ${offer.offerId})`,
    });
    recordMovement(tx, {
      userId: sellerUserId,
      type: 'TRADE_SELL',
      amount: trade.totalIdrs,
      currency: 'IDRS',
      description: `trade ${trade.tradeId}: sold ${terms} to ${buyerUserId} (offer ${offer.offerId})`,
    });
    return toTradeView(trade, buyerUserId);
  });
}

/** The trades the user bought or sold in, newest first, and how many there are. */
export async function listTrades(em: EntityManager, userId: string, page: PageQuery): Promise<{ trades: IMarketTrade[]; total: number }> {
  const [trades, total] = await em.findAndCount(MarketTrade, { $or: [{ buyer: userId }, { seller: userId }] }, { orderBy: { tradeId: 'desc' }, ...page });
  return { trades, total };
}

/** One of the user's trades; any other is "not found". */
export async function findOwnTrade(em: EntityManager, userId: string, tradeId: string): Promise<IMarketTrade> {
  const trade = await em.findOne(MarketTrade, { tradeId, $or: [{ buyer: userId }, { seller: userId }] });
  if (!trade) throw new TradeNotFoundError(tradeId);
  return trade;
}
