// Entities the cache tests cache besides the service's own (users): a test registers them the
// way a feature registers its cached entity (see src/users/user-profile.ts).
import { TokenBlacklist } from '../src/auth/token-blacklist.entity.ts';
import { registerCachedEntity } from '../src/cache/cached-entities.ts';
import { SmartMeter } from '../src/meters/smart-meter.entity.ts';
import '../src/users/user-profile.ts';
import { Wallet } from '../src/wallets/wallet.entity.ts';

declare module '../src/cache/cached-entities.ts' {
  interface CachedEntities {
    wallet: true;
    meter: true;
    blacklist: true;
  }
}

registerCachedEntity('wallet', Wallet, 'walletAddress');
registerCachedEntity('meter', SmartMeter, 'meterId');
registerCachedEntity('blacklist', TokenBlacklist, 'tokenHash');
