import { LockMode, raw, sql, type RawQueryFragment } from '@mikro-orm/core';
import type { EntityManager, QueryBuilder } from '@mikro-orm/postgresql';
import { NoActiveWalletError, WalletNotFoundError } from '../errors.ts';
import { Wallet, type IWallet } from './wallet.entity.ts';

/** A wallet as the API shows it: balances are exact decimal strings. */
export interface WalletView {
  walletAddress: string;
  walletName: string | null;
  energyBalance: string;
  idrsBalance: string;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
}

export function toWalletView(wallet: IWallet): WalletView {
  return {
    walletAddress: wallet.walletAddress,
    walletName: wallet.walletName ?? null,
    energyBalance: wallet.energyBalance,
    idrsBalance: wallet.idrsBalance,
    isActive: wallet.isActive,
    createdAt: wallet.createdAt.toISOString(),
    updatedAt: wallet.updatedAt.toISOString(),
  };
}

/** The user's wallets, oldest first. */
export async function listWallets(em: EntityManager, userId: string): Promise<IWallet[]> {
  return em.find(Wallet, { user: userId }, { orderBy: { createdAt: 'asc', walletAddress: 'asc' } });
}

/**
 * One of the user's wallets; another user's is "not found" too, so existence is not revealed.
 * The address is matched whatever its case: hex digits have none (an EIP-55 checksummed
 * `0xAbC...` is the same wallet as `0xabc...`), and a row the previous backend stored with
 * capitals is found too.
 */
export async function findOwnWallet(em: EntityManager, userId: string, walletAddress: string, lock = false): Promise<IWallet> {
  const wallet = await em.findOne(
    Wallet,
    // ILIKE without wildcards is a case-insensitive equality; the user's own index narrows it to their few wallets
    { walletAddress: { $ilike: walletAddress.replace(/[\\%_]/g, '\\$&') }, user: userId },
    lock ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {},
  );
  if (!wallet) throw new WalletNotFoundError(walletAddress);
  return wallet;
}

/**
 * The users of `userSets` (lists of user ids, or queries that select user ids) as one array,
 * `array[...] || array(select ...)`, for `user_id = any(...)`: PostgreSQL computes it once, before
 * it reads a wallet, then reads each user's wallets from the user index, and a row lock it waited
 * for is rechecked against the same array. Other forms were worse: an OR of an `IN` list and an
 * `IN` subquery cannot use the index (it read every wallet, 145 ms at 200,000 wallets for 5
 * rows); a semi-join with a `UNION ALL` of the sets can, but under two batches in flight it
 * dropped wallets from its result now and then (the take was refused NO_ACTIVE_WALLET). Written
 * with `sql`, whose values are formatted once, with the whole statement: the query builder
 * formats a raw condition's values into its own text, which is formatted again later, and a `?`
 * in an id is then read as a placeholder.
 */
export function usersArray(userSets: Array<string[] | QueryBuilder<any>>): RawQueryFragment {
  const arrays = userSets.map(users => (Array.isArray(users) ? sql`array[${users}]::text[]` : sql`array(${users.toRaw()})::text[]`));
  return raw(arrays.map(() => '?').join(' || '), arrays);
}

/**
 * The statement that locks (`SELECT ... FOR UPDATE`, inside the caller's transaction) the active
 * wallets of some users: every writer of wallets locks them with it, in wallet_address order and
 * in one statement, so two transactions never wait on each other in a cycle. Each of `userSets` is
 * a list of user ids or a query that selects user ids (`settleTakes` passes the sellers of the
 * offers it takes, so that one round trip locks the wallets of both sides; see `usersArray`).
 * `lockMode` may skip the rows another transaction holds (`PESSIMISTIC_PARTIAL_WRITE`, SKIP
 * LOCKED) instead of waiting. Its rows are the wallet's columns (for `em.map`).
 */
export function walletsLockQuery(userSets: Array<string[] | QueryBuilder<any>>, lockMode = LockMode.PESSIMISTIC_WRITE): RawQueryFragment {
  const lock = lockMode === LockMode.PESSIMISTIC_PARTIAL_WRITE ? 'for update skip locked' : 'for update';
  return sql`select "w".* from "wallet" as "w" where "w"."is_active" and "w"."user_id" = any(${usersArray(userSets)}) order by "w"."wallet_address" ${raw(lock)}`;
}

/**
 * Each user's trading wallet among `wallets` (the active wallets of some users): their oldest
 * active one. A user without an active wallet is missing from the map.
 */
export function tradingWalletsOf(wallets: IWallet[]): Map<string, IWallet> {
  const byUser = new Map<string, IWallet>();
  for (const wallet of wallets) {
    const current = byUser.get(wallet.user.userId);
    if (!current || wallet.createdAt < current.createdAt || (+wallet.createdAt === +current.createdAt && wallet.walletAddress < current.walletAddress)) {
      byUser.set(wallet.user.userId, wallet);
    }
  }
  return byUser;
}

/** Locks the active wallets of `userIds` (`walletsLockQuery`) and returns each user's trading wallet (`tradingWalletsOf`). */
export async function lockTradingWallets(em: EntityManager, userIds: string[]): Promise<Map<string, IWallet>> {
  const rows = await em.execute<Array<Record<string, unknown>>>(walletsLockQuery([userIds]));
  return tradingWalletsOf(rows.map(row => em.map(Wallet, row)));
}

/** The user's wallet from `lockTradingWallets`, or `NoActiveWalletError`. */
export function tradingWalletOf(wallets: Map<string, IWallet>, userId: string): IWallet {
  const wallet = wallets.get(userId);
  if (!wallet) throw new NoActiveWalletError(`User ${userId} has no active wallet`);
  return wallet;
}
