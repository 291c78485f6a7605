import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * The limits every user is held to unless an operator set theirs (user_limit): one row, written
 * by the reference seeder seeders/reference/*-default-limits.ts, never by code defaults.
 */
export const LimitDefaults = defineEntity({
  name: 'LimitDefaults',
  tableName: 'limit_defaults',
  comment: 'The per-user limits of a user without their own (one row, from the reference seeders)',
  checks: [{ name: 'limit_defaults_one_row', expression: 'id = 1' }],
  properties: {
    id: p.smallint().primary().autoincrement(false).default(1),
    maxMeters: p.integer(),
    maxOpenOffers: p.integer(),
    maxTradeKwh: p.decimal().precision(20).scale(6),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type ILimitDefaults = InferEntity<typeof LimitDefaults>;
