import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const SECRET = 'a-production-secret-of-32-chars!!';
const WEBHOOK_SECRET = 'a-payment-gateway-secret-of-32-chars';

describe('loadConfig', () => {
  it('works with no variables at all, with development defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/enerlink',
      databaseName: 'enerlink',
      redisUrl: 'redis://127.0.0.1:6379',
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      cachePrefix: 'enerlink',
      cacheTtlSeconds: 300,
      seeding: { seed: 1, users: 5, trades: 0, allowProduction: false },
    });
  });

  it('reads the fixture settings', () => {
    const config = loadConfig({ SEED: '7', SEED_USERS: '100000', SEED_TRADES: '2000', SEED_ALLOW_PRODUCTION: '1' });
    expect(config.seeding).toEqual({ seed: 7, users: 100_000, trades: 2000, allowProduction: true });
  });

  it('listens on every interface in production unless HOST says otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET }).host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET, HOST: '10.1.2.3' }).host).toBe('10.1.2.3');
  });

  it('refuses a HOST that is neither an IP address nor a host name, naming HOST, not the database', () => {
    for (const host of ['999.1.1.1', '1.2.3', 'bad host', '-lead.example']) {
      expect(() => loadConfig({ HOST: host }), host).toThrow(`Invalid environment variable HOST: expected an IP address or a host name to listen on, got ${JSON.stringify(host)}`);
    }
    for (const host of ['::1', '[::1]', 'localhost', 'api.enerlink.example', '0.0.0.0']) expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it('requires JWT_SECRET in production and makes a random one per process elsewhere', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET })).toMatchObject({ jwtSecret: SECRET, jwtSecretGenerated: false });
    const first = loadConfig({});
    expect(first.jwtSecretGenerated).toBe(true);
    expect(first.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}).jwtSecret).not.toBe(first.jwtSecret);
  });

  it('requires PAYMENT_WEBHOOK_SECRET in production, with one line that never echoes it, and makes a random one elsewhere', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET })).toThrow(
      new ConfigError('Invalid environment variable PAYMENT_WEBHOOK_SECRET: required when NODE_ENV=production'),
    );
    expect(() => loadConfig({ PAYMENT_WEBHOOK_SECRET: 'hunter2' })).toThrow(
      new ConfigError('Invalid environment variable PAYMENT_WEBHOOK_SECRET: must be at least 32 characters, got 7'),
    );
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET })).toMatchObject({
      paymentWebhookSecret: WEBHOOK_SECRET,
      paymentWebhookSecretGenerated: false,
    });
    const first = loadConfig({});
    expect(first.paymentWebhookSecretGenerated).toBe(true);
    expect(loadConfig({}).paymentWebhookSecret).not.toBe(first.paymentWebhookSecret);
  });

  it('never echoes a rejected JWT_SECRET', () => {
    expect(() => loadConfig({ JWT_SECRET: 'hunter2' })).toThrow(
      new ConfigError('Invalid environment variable JWT_SECRET: must be at least 32 characters, got 7'),
    );
  });

  it('uses the cheapest bcrypt cost in tests only', () => {
    expect(loadConfig({}).bcryptRounds).toBe(10);
    expect(loadConfig({ NODE_ENV: 'test' }).bcryptRounds).toBe(4);
    expect(loadConfig({ BCRYPT_ROUNDS: '12' }).bcryptRounds).toBe(12);
  });

  it.each([
    [{ PORT: 'abc' }, 'Invalid environment variable PORT: must be integer, got "abc"'],
    [{ PORT: '70000' }, 'Invalid environment variable PORT: must be <= 65535, got "70000"'],
    [{ NODE_ENV: 'staging' }, 'Invalid environment variable NODE_ENV: must be equal to one of the allowed values (one of development, production, test), got "staging"'],
    [{ LOG_LEVEL: 'loud' }, 'Invalid environment variable LOG_LEVEL: must be equal to one of the allowed values (one of fatal, error, warn, info, debug, trace, silent), got "loud"'],
    [{ DATABASE_URL: 'mysql://x/y' }, 'Invalid environment variable DATABASE_URL: expected a postgres:// URL, got "mysql://x/y"'],
    [{ DATABASE_URL: 'postgres://127.0.0.1:5432' }, 'Invalid environment variable DATABASE_URL: the URL must name a database (postgres://host:5432/enerlink), got "postgres://127.0.0.1:5432"'],
    [{ DATABASE_URL: 'not a url' }, 'Invalid environment variable DATABASE_URL: not a URL, got "not a url"'],
    [{ SEED: '-1' }, 'Invalid environment variable SEED: must be >= 0, got "-1"'],
    [{ SEED_USERS: '0' }, 'Invalid environment variable SEED_USERS: must be >= 1, got "0"'],
    [{ SEED_USERS: 'many' }, 'Invalid environment variable SEED_USERS: must be integer, got "many"'],
    [{ SEED_TRADES: '1.5' }, 'Invalid environment variable SEED_TRADES: must be integer, got "1.5"'],
    [{ SEED_ALLOW_PRODUCTION: 'yes' }, 'Invalid environment variable SEED_ALLOW_PRODUCTION: must be equal to one of the allowed values (one of 0, 1), got "yes"'],
    [{ REDIS_URL: 'localhost:6379' }, 'Invalid environment variable REDIS_URL: expected a redis:// or rediss:// URL, got "localhost:6379"'],
    [{ NODE_ENV: 'production' }, 'Invalid environment variable JWT_SECRET: required when NODE_ENV=production'],
    [{ JWT_TTL_SECONDS: '10' }, 'Invalid environment variable JWT_TTL_SECONDS: must be >= 60, got "10"'],
    [{ BCRYPT_ROUNDS: '3' }, 'Invalid environment variable BCRYPT_ROUNDS: must be >= 4, got "3"'],
    [{ CACHE_PREFIX: 'app:cache' }, `Invalid environment variable CACHE_PREFIX: expected letters, digits, '_', '.' or '-' (starting with a letter or digit), got "app:cache"`],
    [{ CACHE_PREFIX: 'enerlink*' }, `Invalid environment variable CACHE_PREFIX: expected letters, digits, '_', '.' or '-' (starting with a letter or digit), got "enerlink*"`],
    [{ CACHE_TTL_SECONDS: '0' }, 'Invalid environment variable CACHE_TTL_SECONDS: must be >= 1, got "0"'],
    [{ CACHE_TTL_SECONDS: '5m' }, 'Invalid environment variable CACHE_TTL_SECONDS: must be integer, got "5m"'],
  ])('rejects %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
    expect(loadConfig({ CACHE_PREFIX: '' }).cachePrefix).toBe('enerlink');
  });

  it('reads the cache namespace and entry lifetime', () => {
    expect(loadConfig({ CACHE_PREFIX: 'enerlink-staging.v2', CACHE_TTL_SECONDS: '60' })).toMatchObject({
      cachePrefix: 'enerlink-staging.v2',
      cacheTtlSeconds: 60,
    });
  });
});
