import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A household on the market (a "prosumer" before the rename): owns wallets and smart meters. */
export const User = defineEntity({
  name: 'User',
  tableName: 'user',
  comment: 'User accounts table (formerly prosumer)',
  uniques: [{ name: 'user_email_unique', properties: ['email'] }],
  properties: {
    userId: p.string().length(64).primary().fieldName('user_id').comment('Unique identifier for user'),
    name: p.string().length(255),
    email: p.string().length(255),
    passwordHash: p.string().length(255).hidden(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type IUser = InferEntity<typeof User>;
