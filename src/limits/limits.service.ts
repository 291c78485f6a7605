import { raw, type RawQueryFragment } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitExceededError, ReferenceDataMissingError, UserNotFoundError, withProblemDetails } from '../errors.ts';
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

/** The user's limits and which of them the operator set (the rest are the defaults). */
export interface LimitsView extends Limits {
  userId: string;
  custom: LimitName[];
}

/**
 * Users' limits in one statement: each user's own (user_limit) over the defaults
 * (limit_defaults, one row, from the reference seeders), with whether the user exists and
 * whether the defaults do. Each asked id is a row of its own, so the statement answers one row
 * per id, unknown ones too. No code default stands in for missing reference data.
 */
const LIMITS_SQL = `select asked.user_id, u.user_id is not null as known, d.id is not null as defaults,
    coalesce(l.max_meters, d.max_meters) as max_meters,
    coalesce(l.max_open_offers, d.max_open_offers) as max_open_offers,
    coalesce(l.max_trade_kwh, d.max_trade_kwh)::text as max_trade_kwh,
    l.max_meters is not null as custom_max_meters,
    l.max_open_offers is not null as custom_max_open_offers,
    l.max_trade_kwh is not null as custom_max_trade_kwh
  from unnest(array[?]::varchar[]) asked(user_id)
  left join "user" u on u.user_id = asked.user_id
  left join user_limit l on l.user_id = asked.user_id
  left join limit_defaults d on d.id = 1`;

/** One row of LIMITS_SQL. */
export interface LimitsRow {
  user_id: string;
  known: boolean;
  defaults: boolean;
  max_meters: number;
  max_open_offers: number;
  max_trade_kwh: string;
  custom_max_meters: boolean;
  custom_max_open_offers: boolean;
  custom_max_trade_kwh: boolean;
}

/** The 503 of an action that needs the default limits before the reference seeders ran. */
export function defaultLimitsMissing(): Error {
  return withProblemDetails(
    new ReferenceDataMissingError(
      'The default per-user limits are not in the database (limit_defaults is empty): the reference data has not been applied; an operator runs npm run seed:reference (or starts the service with REFERENCE_SEED_RUN=true)',
    ),
    {},
    { expose: true },
  );
}

/** The statement that reads `userIds`' limits (LIMITS_SQL), for a caller to run alone or inside a larger one (`settleTakes`). */
export function limitsQuery(userIds: string[]): RawQueryFragment {
  return raw(LIMITS_SQL, [[...new Set(userIds)]]);
}

/** A user's limits from their row of `limitsQuery`, or why there are none: 404 for an unknown user, 503 while the defaults are missing. */
export function toLimitsView(row: LimitsRow): LimitsView | Error {
  if (!row.known) return new UserNotFoundError(row.user_id);
  if (!row.defaults) return defaultLimitsMissing();
  const custom: LimitName[] = [];
  if (row.custom_max_meters) custom.push('maxMeters');
  if (row.custom_max_open_offers) custom.push('maxOpenOffers');
  if (row.custom_max_trade_kwh) custom.push('maxTradeKwh');
  return { userId: row.user_id, maxMeters: row.max_meters, maxOpenOffers: row.max_open_offers, maxTradeKwh: row.max_trade_kwh, custom };
}

/** One user's limits (`limitsQuery`), in `em`'s transaction if any; throws the 404 or 503. */
async function readLimits(em: EntityManager, userId: string): Promise<LimitsView> {
  const [row] = await em.execute<LimitsRow[]>(limitsQuery([userId]));
  const limits = toLimitsView(row);
  if (limits instanceof Error) throw limits;
  return limits;
}

/** The limits `userId` is held to: one query (the hot path of offers and claims). */
export async function limitsOf(em: EntityManager, userId: string): Promise<Limits> {
  const { userId: _, custom: __, ...limits } = await readLimits(em, userId);
  return limits;
}

/** The user's limits with the ones the operator set; 404 for an unknown user. */
export function limitsView(em: EntityManager, userId: string): Promise<LimitsView> {
  return readLimits(em, userId);
}

/** Changes to a user's limits: a value sets it, null puts it back to the default, absent leaves it. */
export type LimitChanges = { [K in LimitName]?: Limits[K] | null };

/** Sets the user's limits (an operator's action); 404 for an unknown user, 503 (nothing written) while the defaults are missing. */
export async function setLimits(em: EntityManager, userId: string, changes: LimitChanges): Promise<LimitsView> {
  await readLimits(em, userId);
  const row = (await em.findOne(UserLimit, { user: userId })) ?? em.create(UserLimit, { user: em.getReference(User, userId) });
  if (changes.maxMeters !== undefined) row.maxMeters = changes.maxMeters;
  if (changes.maxOpenOffers !== undefined) row.maxOpenOffers = changes.maxOpenOffers;
  if (changes.maxTradeKwh !== undefined) row.maxTradeKwh = changes.maxTradeKwh === null ? null : fixed(ENERGY, new Decimal(changes.maxTradeKwh));
  await em.flush();
  return readLimits(em, userId);
}

/** The 409 of a refused action: `detail` says what, the members `limit` and `max` which limit. */
export function limitExceeded(limit: LimitName, max: number | string, detail: string): Error {
  return withProblemDetails(new LimitExceededError(`${detail} (limit ${limit}: ${max}; an operator can change it)`), { limit, max: String(max) });
}
