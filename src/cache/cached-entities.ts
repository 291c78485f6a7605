import { TokenBlacklist } from '../auth/token-blacklist.entity.ts';
import { SmartMeter } from '../meters/smart-meter.entity.ts';
import { User } from '../users/user.entity.ts';
import { Wallet } from '../wallets/wallet.entity.ts';

/**
 * The entities whose reads are cached: the name their keys use and the property that is the id
 * in the key. The token blacklist is looked up by token hash, so that is its id, not its
 * bigint primary key.
 */
export const CACHED_ENTITIES = {
  user: { entity: User, idProperty: 'userId' },
  wallet: { entity: Wallet, idProperty: 'walletAddress' },
  meter: { entity: SmartMeter, idProperty: 'meterId' },
  blacklist: { entity: TokenBlacklist, idProperty: 'tokenHash' },
} as const;

/** Name of a cached entity in keys and `entity.changed` events. */
export type CachedEntity = keyof typeof CACHED_ENTITIES;

const byClassName = new Map(Object.entries(CACHED_ENTITIES).map(([name, { entity, idProperty }]) => [entity.meta.className, { name: name as CachedEntity, idProperty }]));

/** The cache name and id of a cached entity instance, or undefined for an entity that is not cached. */
export function cacheIdentity(className: string, entity: Record<string, unknown>): { entity: CachedEntity; id: string } | undefined {
  const cached = byClassName.get(className);
  const id = cached && entity[cached.idProperty];
  return cached && id != null ? { entity: cached.name, id: String(id) } : undefined;
}
