import type { EntityManager } from '@mikro-orm/postgresql';
import { InsufficientBalanceError, InvalidAmountError, SelfTradeError, TradeNotFoundError, UnknownSellerError } from '../errors.ts';
import type { PageQuery } from '../http/schemas.ts';
import { Decimal, ENERGY, fixed, IDRS, LOG_AMOUNT, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { User } from '../users/user.entity.ts';
import { lockTradingWallets, tradingWalletOf } from '../wallets/wallet.service.ts';
import { MarketTrade, type IMarketTrade } from './market-trade.entity.ts';

/** A purchase the caller asks for: amounts as decimal text. */
export interface TradeRequest {
  sellerUserId: string;
  energyKwh: string;
  priceIdrsPerKwh: string;
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
  };
}

/** What a trade costs: energy x price, rounded half-up to the cent (IDRS has 2 decimals). */
export function tradeTotal(energyKwh: Decimal, priceIdrsPerKwh: Decimal): Decimal {
  return energyKwh.times(priceIdrsPerKwh).toDecimalPlaces(IDRS.scale, Decimal.ROUND_HALF_UP);
}

/**
 * The caller buys `energyKwh` from the seller at `priceIdrsPerKwh`, in one transaction: both
 * trading wallets are locked (FOR UPDATE, in address order), balances checked, energy moved
 * seller -> buyer and IDRS buyer -> seller, the trade inserted with one transaction_log row
 * per side. Any refusal rolls everything back.
 */
export async function buyEnergy(em: EntityManager, buyerUserId: string, request: TradeRequest): Promise<TradeView> {
  const { sellerUserId } = request;
  if (sellerUserId === buyerUserId) throw new SelfTradeError();
  const energy = positiveAmount(request.energyKwh, 'energyKwh');
  const price = positiveAmount(request.priceIdrsPerKwh, 'priceIdrsPerKwh');
  const total = tradeTotal(energy, price);
  if (total.isZero()) throw new InvalidAmountError('The total rounds to 0.00 IDRS: buy more energy or pay a higher price');
  if (total.gt(LOG_AMOUNT.max)) throw new InvalidAmountError(`The total ${total.toFixed(2)} IDRS is above the limit of one trade`);

  return em.transactional(async tx => {
    const wallets = await lockTradingWallets(tx, [buyerUserId, sellerUserId]);
    if (!wallets.has(sellerUserId) && (await tx.count(User, { userId: sellerUserId })) === 0) throw new UnknownSellerError(sellerUserId);
    const buyerWallet = tradingWalletOf(wallets, buyerUserId);
    const sellerWallet = tradingWalletOf(wallets, sellerUserId);

    const sellerEnergy = new Decimal(sellerWallet.energyBalance);
    const buyerIdrs = new Decimal(buyerWallet.idrsBalance);
    // The seller's balance is not the buyer's business: the message does not give it.
    if (sellerEnergy.lt(energy)) throw new InsufficientBalanceError(`The seller does not have ${energy.toFixed(ENERGY.scale)} kWh to sell`);
    if (buyerIdrs.lt(total)) {
      throw new InsufficientBalanceError(`Your IDRS balance ${buyerWallet.idrsBalance} does not cover the total ${total.toFixed(IDRS.scale)} IDRS`);
    }
    sellerWallet.energyBalance = fixed(ENERGY, sellerEnergy.minus(energy));
    buyerWallet.energyBalance = fixed(ENERGY, new Decimal(buyerWallet.energyBalance).plus(energy));
    buyerWallet.idrsBalance = fixed(IDRS, buyerIdrs.minus(total));
    sellerWallet.idrsBalance = fixed(IDRS, new Decimal(sellerWallet.idrsBalance).plus(total));

    const trade = tx.create(MarketTrade, {
      buyer: tx.getReference(User, buyerUserId),
      seller: tx.getReference(User, sellerUserId),
      tradedEnergyKwh: fixed(ENERGY, energy),
      priceIdrsPerKwh: fixed(IDRS, price),
      totalIdrs: fixed(IDRS, total),
    });
    await tx.flush(); // the log rows name the trade id
    const terms = `${trade.tradedEnergyKwh} kWh at ${trade.priceIdrsPerKwh} IDRS/kWh`;
    recordMovement(tx, {
      userId: buyerUserId,
      type: 'TRADE_BUY',
      amount: total.negated().toFixed(IDRS.scale),
      currency: 'IDRS',
      description: `trade ${trade.tradeId}: bought ${terms} from ${sellerUserId}`,
    });
    recordMovement(tx, {
      userId: sellerUserId,
      type: 'TRADE_SELL',
      amount: trade.totalIdrs,
      currency: 'IDRS',
      description: `trade ${trade.tradeId}: sold ${terms} to ${buyerUserId}`,
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
