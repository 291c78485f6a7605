import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A cache purge owed after a schema change, recorded in the same transaction (see cache-outbox.ts). */
export const CacheOutbox = defineEntity({
  name: 'CacheOutbox',
  tableName: 'cache_outbox',
  comment: 'Cache purges owed after schema changes (transactional outbox)',
  indexes: [{ name: 'idx_cacheoutbox_pending', properties: ['id'], where: 'purged_at is null' }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    generation: p.string().length(32).comment('Schema generation the change produced: every other generation is to be purged'),
    migrations: p.text(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    claimedUntil: p.datetime().nullable().comment('Lease of the instance carrying out the purge'),
    purgedAt: p.datetime().nullable(),
    purgedKeys: p.bigint('number').nullable(),
  },
});

export type ICacheOutbox = InferEntity<typeof CacheOutbox>;
