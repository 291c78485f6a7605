import { DeadlockException, LockMode, raw, ReferenceKind, sql, type EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InsufficientBalanceError, InvalidAmountError, OfferNotFoundError, OfferUnavailableError, SelfTradeError, TradeNotFoundError } from '../errors.ts';
import type { PageQuery } from '../http/schemas.ts';
import { Decimal, ENERGY, fixed, IDRS, LOG_AMOUNT, positiveAmount } from '../ledger/amounts.ts';
import { withHeldWrites } from '../db/statement-batching.ts';
import { StatementTemplates } from '../db/statement-template.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { limitExceeded, limitsQuery, toLimitsView, type LimitsRow, type LimitsView } from '../limits/limits.service.ts';
import { User } from '../users/user.entity.ts';
import { Wallet, type IWallet } from '../wallets/wallet.entity.ts';
import { tradingWalletOf, tradingWalletsOf, usersArray, walletsLockQuery } from '../wallets/wallet.service.ts';
import { TransactionLog } from '../ledger/transaction-log.entity.ts';
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

/** One buyer's take, as `settleTakes` settles it among others. */
export interface Take {
  buyerUserId: string;
  request: TakeRequest;
}

/** What became of a take: its trade, or why it was refused (an error with the status of its reply). */
export type TakeOutcome = TradeView | Error;

/**
 * The outcome of a take whose rows another transaction holds, when its batch skipped them
 * (`settleTakes` with `skipLocked`): not settled, not refused, nothing written. The trade desk
 * settles it again.
 */
export class RowsHeldError extends Error {
  override name = 'RowsHeldError';
}

/** The ids a take's rows will have (a refused take leaves them unused, as a rolled-back insert does). */
interface TakeIds {
  trade: string;
  buyLog: string;
  sellLog: string;
}

/** What `lockTakes` holds and reads for a batch of takes: their offers, the trading wallets of both sides, ids for their trades and ledger rows, the buyers' limits. */
interface TakeLocks {
  /** Whether rows other transactions held were skipped, rather than waited for. */
  skipLocked: boolean;
  /** The users all of whose active wallets are locked: their trading wallet is known for sure. */
  usersLocked: Set<string>;
  /** The offers that exist, locked or not. */
  offersKnown: Set<string>;
  limits: Map<string, LimitsView | Error>;
  offers: Map<string, IMarketOffer>;
  wallets: Map<string, IWallet>;
  /** Per take: its trade's id and its two ledger rows' ids, drawn from their sequences. */
  ids: TakeIds[];
}

const templates = new WeakMap<object, StatementTemplates>();

/** The statement templates of `tx`'s ORM (one set per platform). */
function templatesOf(tx: EntityManager): StatementTemplates {
  const platform = tx.getPlatform();
  let ofPlatform = templates.get(platform);
  if (!ofPlatform) templates.set(platform, (ofPlatform = new StatementTemplates(platform)));
  return ofPlatform;
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
 * Reads the buyers' limits (`limitsQuery`: nothing locks limits) and locks what a batch of takes
 * writes, in one statement (one round trip): the active wallets of the buyers and of the offers'
 * sellers (`walletsLockQuery`: in address order, as every writer of wallets), then the offers'
 * rows (in id order), and draws per take one trade id and two ledger row ids from their
 * sequences (so the ledger rows can name their trade, and the inserts need no answer: they wait
 * for the next statement; a refused take leaves gaps, as any rolled-back insert). The offers are locked after the wallets: their condition reads the locked wallets, and
 * PostgreSQL evaluates such a condition (a one-time filter) before it reads, let alone locks, an
 * offer. Every writer takes wallets before offers, so no two transactions wait on each other in a
 * cycle. With `skipLocked`, rows another transaction holds are skipped (SKIP LOCKED) rather than
 * waited for; the statement also counts each user's active wallets, so that a user some of whose
 * wallets were skipped is known (their trading wallet may be among them), and reads which offers
 * exist (a skipped offer is not a missing one). Each row holds an
 * offer, a wallet, a take's ids (`full join ... on false`), a buyer's limits or a user's count of
 * active wallets (as JSON: integers, booleans and text); the entities come back managed by `tx`'s
 * unit of work, like those of `em.find`. An offer that does not exist (or was skipped) is missing
 * from `offers`. The statement is built by the query builder once per shape (how many buyers
 * and offers, and the lock mode) and filled in with each batch's ids and size (StatementTemplates).
 */
async function lockTakes(tx: EntityManager, takes: Take[], skipLocked: boolean): Promise<TakeLocks> {
  const offerIds = [...new Set(takes.map(take => take.request.offerId))];
  const buyerIds = [...new Set(takes.map(take => take.buyerUserId))];
  const lockMode = skipLocked ? LockMode.PESSIMISTIC_PARTIAL_WRITE : LockMode.PESSIMISTIC_WRITE;
  const size = [String(takes.length)];
  const statement = templatesOf(tx).fill(`lockTakes:${lockMode}`, { buyerIds, offerIds, size }, ({ buyerIds, offerIds, size }) => {
    const trades = tx.getMetadata().get(MarketTrade);
    const sellers = () => tx.createQueryBuilder(MarketOffer, 'seller_of').select('seller').where({ offerId: { $in: offerIds } });
    const wallets = walletsLockQuery([buyerIds, sellers()], lockMode);
    const knownOffers = tx.createQueryBuilder(MarketOffer, 'k').select('offerId').where({ offerId: { $in: offerIds } });
    const activeWallets = sql`select "a"."user_id", count(*)::int as n from "wallet" as "a" where "a"."is_active" and "a"."user_id" = any(${usersArray([buyerIds, sellers()])}) group by "a"."user_id"`;
    const offers = tx
      .createQueryBuilder(MarketOffer, 'o')
      .select('*')
      .where({ offerId: { $in: offerIds } })
      .andWhere(raw('(select count(*) from locked_wallets) >= 0'))
      .orderBy({ offerId: 'asc' })
      .setLockMode(lockMode);
    const logs = tx.getMetadata().get(TransactionLog);
    const nextval = (table: string, column: string) => raw(`nextval(pg_get_serial_sequence(?, ?))::text`, [tx.getPlatform().quoteIdentifier(table), column]);
    const nextTrade = nextval(trades.tableName, trades.properties.tradeId.fieldNames[0]);
    const nextLog = nextval(logs.tableName, logs.properties.logId.fieldNames[0]);
    return sql`with buyer_limits as (${limitsQuery(buyerIds)}), locked_wallets as (${wallets}), locked_offers as (${offers.toRaw()}),
      trade_ids as (select ${nextTrade} as next_trade_id, ${nextLog} as buy_log_id, ${nextLog} as sell_log_id from generate_series(1, ${size[0]}::int)),
      active_wallets as (${activeWallets}), known_offers as (${knownOffers.toRaw()})
      select t.next_trade_id, t.buy_log_id, t.sell_log_id, to_json(l) as limits, to_json(a) as active, k.offer_id::text as known_offer_id,
        ${raw(columnsAs(tx, MarketOffer, 'o'))}, ${raw(columnsAs(tx, Wallet, 'w'))}
      from locked_offers o full join locked_wallets w on false full join trade_ids t on false full join buyer_limits l on false
        full join active_wallets a on false full join known_offers k on false`;
  });
  const rows = await tx.execute<Array<Record<string, unknown>>>(statement);
  const limitRows = rows.filter(row => row.limits != null).map(row => row.limits as LimitsRow);
  const offerRows = rows.filter(row => row.o__offer_id != null).map(row => tx.map(MarketOffer, columnsOf(row, 'o')));
  const walletRows = rows.filter(row => row.w__wallet_address != null).map(row => tx.map(Wallet, columnsOf(row, 'w')));
  const lockedOf = new Map<string, number>();
  for (const wallet of walletRows) lockedOf.set(wallet.user.userId, (lockedOf.get(wallet.user.userId) ?? 0) + 1);
  const activeOf = new Map(rows.filter(row => row.active != null).map(row => row.active as { user_id: string; n: number }).map(row => [row.user_id, row.n]));
  const users = [...buyerIds, ...offerRows.map(offer => offer.seller.userId)];
  return {
    skipLocked,
    usersLocked: new Set(users.filter(user => (lockedOf.get(user) ?? 0) === (activeOf.get(user) ?? 0))),
    offersKnown: new Set(rows.filter(row => row.known_offer_id != null).map(row => row.known_offer_id as string)),
    limits: new Map(limitRows.map(row => [row.user_id, toLimitsView(row)])),
    offers: new Map(offerRows.map(offer => [offer.offerId, offer])),
    wallets: tradingWalletsOf(walletRows),
    ids: rows
      .filter(row => row.next_trade_id != null)
      .map(row => ({ trade: row.next_trade_id as string, buyLog: row.buy_log_id as string, sellLog: row.sell_log_id as string })),
  };
}

/**
 * One take of a batch, against the rows `lockTakes` locked as the takes before it left them: the
 * offer must exist, be open, unexpired and hold the energy, be someone else's, and the trade fit
 * the buyer's limit and the buyer's IDRS. Everything is checked before anything changes, so a
 * refused take (it throws) leaves the batch's entities as they were. Energy moves seller -> buyer
 * and IDRS buyer -> seller, the offer's remaining energy goes down (FILLED at zero), and the trade
 * and one transaction_log row per side join the unit of work.
 */
function settleTake(tx: EntityManager, { buyerUserId, request }: Take, locks: TakeLocks, ids: TakeIds): IMarketTrade {
  const tradeId = ids.trade;
  const energy = positiveAmount(request.energyKwh, 'energyKwh');
  const limits = locks.limits.get(buyerUserId)!;
  if (limits instanceof Error) throw limits;
  const offer = locks.offers.get(request.offerId);
  // a skipped row: another transaction holds the offer or one of the wallets
  const skipped = offer ? !locks.usersLocked.has(buyerUserId) || !locks.usersLocked.has(offer.seller.userId) : locks.offersKnown.has(request.offerId);
  if (locks.skipLocked && skipped) throw new RowsHeldError();
  if (!offer) throw new OfferNotFoundError(request.offerId);
  const sellerUserId = offer.seller.userId;
  if (sellerUserId === buyerUserId) throw new SelfTradeError();
  if (!isOpen(offer)) throw new OfferUnavailableError(`Offer ${offer.offerId} is ${toOfferView(offer).status}: it can no longer be taken`);
  const remaining = new Decimal(offer.remainingKwh);
  if (remaining.lt(energy)) {
    throw new OfferUnavailableError(`Offer ${offer.offerId} has ${offer.remainingKwh} kWh left, less than ${energy.toFixed(ENERGY.scale)}`);
  }
  const { maxTradeKwh } = limits;
  if (energy.gt(maxTradeKwh)) throw limitExceeded('maxTradeKwh', maxTradeKwh, `A trade of ${energy.toFixed()} kWh is larger than one trade may be`);
  const price = new Decimal(offer.priceIdrsPerKwh);
  const total = tradeTotal(energy, price);
  if (total.isZero()) throw new InvalidAmountError('The total rounds to 0.00 IDRS: take more energy');
  if (total.gt(LOG_AMOUNT.max)) throw new InvalidAmountError(`The total ${total.toFixed(2)} IDRS is above the limit of one trade`);
  const buyerWallet = tradingWalletOf(locks.wallets, buyerUserId);
  const sellerWallet = tradingWalletOf(locks.wallets, sellerUserId);

  const sellerEnergy = new Decimal(sellerWallet.energyBalance);
  const buyerIdrs = new Decimal(buyerWallet.idrsBalance);
  // The offer reserves the energy, so this holds unless the seller's trading wallet changed;
  // the seller's balance is not the buyer's business: the message does not give it.
  if (sellerEnergy.lt(energy)) throw new OfferUnavailableError(`The seller of offer ${offer.offerId} no longer holds ${energy.toFixed(ENERGY.scale)} kWh`);
  if (buyerIdrs.lt(total)) {
    throw new InsufficientBalanceError(`Your IDRS balance ${buyerWallet.idrsBalance} does not cover the total ${total.toFixed(IDRS.scale)} IDRS`);
  }
  // the new values first (fixed() refuses one that does not fit its column), then the changes
  const balances = {
    sellerEnergy: fixed(ENERGY, sellerEnergy.minus(energy)),
    buyerEnergy: fixed(ENERGY, new Decimal(buyerWallet.energyBalance).plus(energy)),
    buyerIdrs: fixed(IDRS, buyerIdrs.minus(total)),
    sellerIdrs: fixed(IDRS, new Decimal(sellerWallet.idrsBalance).plus(total)),
    remaining: fixed(ENERGY, remaining.minus(energy)),
  };
  sellerWallet.energyBalance = balances.sellerEnergy;
  buyerWallet.energyBalance = balances.buyerEnergy;
  buyerWallet.idrsBalance = balances.buyerIdrs;
  sellerWallet.idrsBalance = balances.sellerIdrs;
  offer.remainingKwh = balances.remaining;
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
    logId: ids.buyLog,
    userId: buyerUserId,
    type: 'TRADE_BUY',
    amount: total.negated().toFixed(IDRS.scale),
    currency: 'IDRS',
    description: `trade ${tradeId}: bought ${terms} from ${sellerUserId} (offer ${offer.offerId})`,
  });
  recordMovement(tx, {
    logId: ids.sellLog,
    userId: sellerUserId,
    type: 'TRADE_SELL',
    amount: trade.totalIdrs,
    currency: 'IDRS',
    description: `trade ${tradeId}: sold ${terms} to ${buyerUserId} (offer ${offer.offerId})`,
  });
  return trade;
}

/**
 * Whether a transaction that failed before its commit is worth one more attempt: its session was
 * lost (terminated, a failover, a network cut) or it was a deadlock's victim. Not a timeout: a
 * statement that waited its `statement_timeout` would only wait as long again.
 */
function worthRetrying(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (error instanceof DeadlockException) return true;
  if (typeof code === 'string') return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
  return /^Connection terminated/.test((error as Error).message);
}

/**
 * Settles a batch of takes in one transaction, in their order: one statement reads the buyers'
 * limits and locks every row the batch writes (`lockTakes`), each take is checked and applied in
 * memory (`settleTake`; a later take sees what the earlier ones left: two buyers of one offer
 * cannot take more than it holds), and one flush writes the trades, their ledger rows, the
 * wallets and the offers. A refused take is that take's outcome and changes nothing; the others
 * settle. With `skipLocked` the batch waits for no row another transaction holds: a take that
 * needs one has `RowsHeldError` for its outcome (the trade desk settles it again; without
 * `skipLocked` the transaction waits for the rows, as a single take does). A transaction that fails before its
 * commit (`worthRetrying`) is tried once more, on a new connection, from the start; any other
 * failure, or one during the commit (whose outcome is unknown), fails the whole batch: it throws.
 */
export async function settleTakes(em: EntityManager, takes: Take[], { skipLocked = false, retries = 1 } = {}): Promise<TakeOutcome[]> {
  let committing = false;
  try {
    // held writes: the begin goes with the locking statement, the updates of the flush with the commit
    return await withHeldWrites(() => em.fork().transactional(async tx => {
      const locks = await lockTakes(tx, takes, skipLocked);
      const outcomes = takes.map((take, index): IMarketTrade | Error => {
        try {
          return settleTake(tx, take, locks, locks.ids[index]);
        } catch (error) {
          return error as Error;
        }
      });
      await tx.flush(); // the trades, their ledger rows, the wallets and the offers
      // em.transactional flushes once more before its commit: with nothing left to compare (the
      // written entities stay readable, detached), it has no change set to compute for every entity again
      tx.clear();
      committing = true;
      return outcomes.map((outcome, index) => (outcome instanceof Error ? outcome : toTradeView(outcome, takes[index].buyerUserId)));
    }));
  } catch (error) {
    if (committing || retries === 0 || !worthRetrying(error)) throw error;
    return settleTakes(em, takes, { skipLocked, retries: retries - 1 });
  }
}

/** One take on its own (`settleTakes` of one): its trade, or it throws why it was refused. */
export async function takeOffer(em: EntityManager, buyerUserId: string, request: TakeRequest): Promise<TradeView> {
  const [outcome] = await settleTakes(em, [{ buyerUserId, request }]);
  if (outcome instanceof Error) throw outcome;
  return outcome;
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
