import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** Operating states a meter reports; stored as plain varchar by the schema contract. */
export const METER_STATUSES = ['ACTIVE', 'INACTIVE', 'MAINTENANCE'] as const;

/**
 * A smart meter measuring a household's energy export and import. The operator provisions it
 * (capacity, device key, pairing code); it has no user until one claims it with the code.
 */
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
        .nullable()
        .comment('Reference to user who owns this meter'),
    location: p.string().length(255).nullable(),
    status: p.string().length(20).default('ACTIVE'),
    capacityKw: p.decimal().precision(10).scale(3).defaultRaw('0'),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
    deviceKey: p
      .string()
      .length(64)
      .nullable()
      .hidden()
      .comment('HMAC-SHA256 key the meter signs its settlements with; shown to the operator once'),
    deviceSignedAt: p.datetime().nullable().comment('Timestamp of the newest accepted signed request: older or equal ones are replays'),
    pairingCodeHash: p
      .string()
      .length(64)
      .nullable()
      .hidden()
      .comment('SHA-256 of the pairing code a user claims the meter with; cleared by the claim'),
    pairingExpiresAt: p.datetime().nullable(),
    provisionedAt: p.datetime().nullable(),
    claimedAt: p.datetime().nullable(),
  },
});

export type ISmartMeter = InferEntity<typeof SmartMeter>;
