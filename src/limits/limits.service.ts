import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitExceededError, UserNotFoundError, withProblemDetails } from '../errors.ts';
import { Decimal, ENERGY, fixed } from '../ledger/amounts.ts';
import { User } from '../users/user.entity.ts';
import { UserLimit } from './user-limit.entity.ts';

/** The limits a user is held to: meters they may claim, offers they may have open, kWh per trade or offer. */
export interface Limits {
  maxMeters: number;
  maxOpenOffers: number;
  /** Decimal text, kWh. */
  maxTradeKwh: string;
}

/** A limit's name, as the 409's `limit` member and the admin API call it. */
export type LimitName = keyof Limits;

/** What a user without an operator's limits is held to: a household, not a power plant. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({ maxMeters: 5, maxOpenOffers: 20, maxTradeKwh: '1000.000000' });

/** The user's limits and which of them the operator set (the rest are the defaults). */
export interface LimitsView extends Limits {
  userId: string;
  custom: LimitName[];
}

/** The limits `userId` is held to. */
export async function limitsOf(em: EntityManager, userId: string): Promise<Limits> {
  const { userId: _, custom: __, ...limits } = await limitsView(em, userId);
  return limits;
}

/** The user's limits with the ones the operator set; 404 for an unknown user. */
export async function limitsView(em: EntityManager, userId: string): Promise<LimitsView> {
  const row = await em.findOne(UserLimit, { user: userId });
  if (!row && (await em.count(User, { userId })) === 0) throw new UserNotFoundError(userId);
  const custom: LimitName[] = [];
  const pick = <K extends LimitName>(name: K, value: Limits[K] | null | undefined): Limits[K] => {
    if (value === null || value === undefined) return DEFAULT_LIMITS[name];
    custom.push(name);
    return value;
  };
  return {
    userId,
    maxMeters: pick('maxMeters', row?.maxMeters),
    maxOpenOffers: pick('maxOpenOffers', row?.maxOpenOffers),
    maxTradeKwh: pick('maxTradeKwh', row?.maxTradeKwh),
    custom,
  };
}

/** Changes to a user's limits: a value sets it, null puts it back to the default, absent leaves it. */
export type LimitChanges = { [K in LimitName]?: Limits[K] | null };

/** Sets the user's limits (an operator's action); 404 for an unknown user. */
export async function setLimits(em: EntityManager, userId: string, changes: LimitChanges): Promise<LimitsView> {
  if ((await em.count(User, { userId })) === 0) throw new UserNotFoundError(userId);
  const row = (await em.findOne(UserLimit, { user: userId })) ?? em.create(UserLimit, { user: em.getReference(User, userId) });
  if (changes.maxMeters !== undefined) row.maxMeters = changes.maxMeters;
  if (changes.maxOpenOffers !== undefined) row.maxOpenOffers = changes.maxOpenOffers;
  if (changes.maxTradeKwh !== undefined) row.maxTradeKwh = changes.maxTradeKwh === null ? null : fixed(ENERGY, new Decimal(changes.maxTradeKwh));
  await em.flush();
  return limitsView(em, userId);
}

/** The 409 of a refused action: `detail` says what, the members `limit` and `max` which limit. */
export function limitExceeded(limit: LimitName, max: number | string, detail: string): Error {
  return withProblemDetails(new LimitExceededError(`${detail} (limit ${limit}: ${max}; an operator can change it)`), { limit, max: String(max) });
}
