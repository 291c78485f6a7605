import { LockMode, raw, ReferenceKind, sql, type EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InsufficientBalanceError, InvalidAmountError, OfferNotFoundError, OfferUnavailableError, SelfTradeError, TradeNotFoundError } from '../errors.ts';
import type { PageQuery } from '../http/schemas.ts';
import { Decimal, ENERGY, fixed, IDRS, LOG_AMOUNT, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { limitExceeded, limitsOf } from '../limits/limits.service.ts';
import { User } from '../users/user.entity.ts';
import { Wallet, type IWallet } from '../wallets/wallet.entity.ts';
import { tradingWalletOf, tradingWalletsOf, walletsLockQuery } from '../wallets/wallet.service.ts';
import { MarketOffer, type IMarketOffer } from './market-offer.entity.ts';
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

/** What `lockTrade` holds: the offer, the trading wallets of both sides, and the id the trade will have. */
interface TradeLocks {
  offer: IMarketOffer;
  wallets: Map<string, IWallet>;
  tradeId: string;
}

/** `alias.column as alias__column` for every column of `entity`, so that two entities' columns can share a row. */
function columnsAs<T extends object>(tx: EntityManager, entity: EntityName<T>, alias: string): string {
  const quote = (name: string) => tx.getPlatform().quoteIdentifier(name);
  const meta = tx.getMetadata().get(entity);
  return meta.props
    .filter(prop => prop.persist !== false && (prop.kind === ReferenceKind.SCALAR || prop.kind === ReferenceKind.MANY_TO_ONE))
    .flatMap(prop => prop.fieldNames)
    .map(column => `${quote(alias)}.${quote(column)} as ${quote(`${alias}__${column}`)}`)
    .join(', ');
}

/** The columns `columnsAs(..., alias)` named, under their own names again. */
function columnsOf(row: Record<string, unknown>, alias: string): Record<string, unknown> {
  const prefix = `${alias}__`;
  return Object.fromEntries(Object.entries(row).filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key.slice(prefix.length), value]));
}

/**
 * Locks what a trade on `offerId` writes, in one statement (one round trip): the active wallets
 * of the buyer and of the offer's seller (`walletsLockQuery`: in address order, as every writer
 * of wallets), then the offer's row, and draws the trade's id from its sequence (so the ledger
 * rows can name it in the same flush; a refused trade leaves a gap, as any rolled-back insert).
 * The offer's lock is taken after the wallets': its condition reads the locked wallets, and
 * PostgreSQL evaluates such a condition (a one-time filter) before it reads, let alone locks, the
 * offer. The entities come back managed by `tx`'s unit of work, like those of `em.find`; null
 * when there is no such offer.
 */
async function lockTrade(tx: EntityManager, buyerUserId: string, offerId: string): Promise<TradeLocks | null> {
  const trades = tx.getMetadata().get(MarketTrade);
  const sellerOfOffer = tx.createQueryBuilder(MarketOffer, 'seller_of').select('seller').where({ offerId });
  const wallets = walletsLockQuery(tx, [buyerUserId, sql`(${sellerOfOffer.toRaw()})`]);
  const offer = tx
    .createQueryBuilder(MarketOffer, 'o')
    .select(['*', raw('nextval(pg_get_serial_sequence(?, ?))::text as next_trade_id', [tx.getPlatform().quoteIdentifier(trades.tableName), trades.properties.tradeId.fieldNames[0]])])
    .where({ offerId })
    .andWhere(raw('(select count(*) from locked_wallets) >= 0'))
    .setLockMode(LockMode.PESSIMISTIC_WRITE);
  const rows = await tx.execute<Array<Record<string, unknown>>>(
    sql`with locked_wallets as (${wallets.toRaw()}), locked_offer as (${offer.toRaw()})
      select o.next_trade_id, ${raw(columnsAs(tx, MarketOffer, 'o'))}, ${raw(columnsAs(tx, Wallet, 'w'))}
      from locked_offer o left join locked_wallets w on true`,
  );
  if (rows.length === 0) return null;
  return {
    offer: tx.map(MarketOffer, columnsOf(rows[0], 'o')),
    // a row without a wallet is the offer alone: neither user has an active wallet
    wallets: tradingWalletsOf(rows.filter(row => row.w__wallet_address !== null).map(row => tx.map(Wallet, columnsOf(row, 'w')))),
    tradeId: rows[0].next_trade_id as string,
  };
}

/**
 * The caller takes `energyKwh` of an offer at its price, in one transaction: the buyer's trade
 * size limit is read, then one statement locks both trading wallets (FOR UPDATE, in address
 * order) and the offer row (`lockTrade`); the offer must be open, unexpired and hold the energy,
 * the buyer's IDRS cover it. Energy moves seller -> buyer and IDRS buyer -> seller, the offer's
 * remaining energy goes down (FILLED at zero), and the trade is inserted with one
 * transaction_log row per side, all in one flush. Any refusal rolls everything back. Many buyers
 * on one offer queue on its row: none can take what another took.
 */
export async function takeOffer(em: EntityManager, buyerUserId: string, request: TakeRequest): Promise<TradeView> {
  const energy = positiveAmount(request.energyKwh, 'energyKwh');

  return em.transactional(async tx => {
    // read before the locks (nothing locks limits), so that the rows stay locked for as few statements as can be
    const { maxTradeKwh } = await limitsOf(tx, buyerUserId);
    const locks = await lockTrade(tx, buyerUserId, request.offerId);
    if (!locks) throw new OfferNotFoundError(request.offerId);
    const { offer, wallets, tradeId } = locks;
    const sellerUserId = offer.seller.userId;
    if (sellerUserId === buyerUserId) throw new SelfTradeError();
    if (!isOpen(offer)) throw new OfferUnavailableError(`Offer ${offer.offerId} is ${toOfferView(offer).status}: it can no longer be taken`);
    const remaining = new Decimal(offer.remainingKwh);
    if (remaining.lt(energy)) {
      throw new OfferUnavailableError(`Offer ${offer.offerId} has ${offer.remainingKwh} kWh left, less than ${energy.toFixed(ENERGY.scale)}`);
    }
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
      tradeId,
      buyer: tx.getReference(User, buyerUserId),
      seller: tx.getReference(User, sellerUserId),
      tradedEnergyKwh: fixed(ENERGY, energy),
      priceIdrsPerKwh: offer.priceIdrsPerKwh,
      totalIdrs: fixed(IDRS, total),
      offer,
    });
    const terms = `${trade.tradedEnergyKwh} kWh at ${trade.priceIdrsPerKwh} IDRS/kWh`;
    recordMovement(tx, {
      userId: buyerUserId,
      type: 'TRADE_BUY',
      amount: total.negated().toFixed(IDRS.scale),
      currency: 'IDRS',
      description: `trade ${tradeId}: bought ${terms} from ${sellerUserId} (offer ${offer.offerId})`,
    });
    recordMovement(tx, {
      userId: sellerUserId,
      type: 'TRADE_SELL',
      amount: trade.totalIdrs,
      currency: 'IDRS',
      description: `trade ${tradeId}: sold ${terms} to ${buyerUserId} (offer ${offer.offerId})`,
    });
    await tx.flush(); // the trade, both ledger rows, both wallets and the offer
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
