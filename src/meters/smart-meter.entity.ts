import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** Operating states a meter reports; stored as plain varchar by the schema contract. */
export const METER_STATUSES = ['ACTIVE', 'INACTIVE', 'MAINTENANCE'] as const;

/** A smart meter measuring a user's energy export and import. */
export const SmartMeter = defineEntity({
  name: 'SmartMeter',
  tableName: 'smart_meter',
  indexes: [
    { name: 'idx_smartmeter_user_id', properties: ['user'] },
    { name: 'idx_smartmeter_user_status', properties: ['user', 'status'] },
  ],
  properties: {
    meterId: p.string().length(64).primary(),
    user: () =>
      p
        .manyToOne(User)
        .fieldName('user_id')
        .foreignKeyName('smart_meter_user_id_fkey')
        .deleteRule('cascade')
        .comment('Reference to user who owns this meter'),
    location: p.string().length(255).nullable(),
    status: p.string().length(20).default('ACTIVE'),
    capacityKw: p.decimal().precision(10).scale(3).defaultRaw('0'),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type ISmartMeter = InferEntity<typeof SmartMeter>;
