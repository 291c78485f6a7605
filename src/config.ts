import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/** Thrown when an environment variable has a value enerlink cannot use; the message names it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['development', 'production', 'test'] as const;

/** The fixture seed used when SEED is not set: the same data on every machine. */
export const DEFAULT_SEED = 1;
/** Largest SEED: faker's generator takes a 32-bit seed. */
export const MAX_SEED = 2 ** 32 - 1;
/** Largest SEED_USERS / SEED_TRADES: a load-test data set, not a typo with extra zeros. */
export const MAX_SEED_ROWS = 10_000_000;

const schema = {
  type: 'object',
  properties: {
    NODE_ENV: { type: 'string', enum: NODE_ENVS, default: 'development' },
    DATABASE_URL: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/enerlink' },
    REDIS_URL: { type: 'string', default: 'redis://127.0.0.1:6379' },
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    HOST: { type: 'string', minLength: 1 },
    LOG_LEVEL: { type: 'string', enum: LOG_LEVELS },
    // below sonic-boom's largest write (16 KiB), which its buffer must stay under
    LOG_BUFFER_BYTES: { type: 'integer', minimum: 0, maximum: 16_383, default: 4096 },
    DATABASE_CONNECT_TIMEOUT_MS: { type: 'integer', minimum: 0, default: 30_000 },
    DATABASE_ACQUIRE_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
    DATABASE_STATEMENT_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 86_400_000, default: 60_000 },
    REDIS_COMMAND_TIMEOUT_MS: { type: 'integer', minimum: 10, maximum: 60_000, default: 500 },
    MIGRATIONS_RUN: { type: 'boolean' },
    REFERENCE_SEED_RUN: { type: 'boolean' },
    MIGRATION_LOCK_TIMEOUT_MS: { type: 'integer', minimum: 0, default: 120_000 },
    MIGRATION_DDL_LOCK_TIMEOUT_MS: { type: 'integer', minimum: 1, default: 50 },
    MIGRATION_DDL_RETRIES: { type: 'integer', minimum: 0, maximum: 100, default: 20 },
    BACKUP_BEFORE_MIGRATE: { type: 'boolean' },
    BACKUP_DIR: { type: 'string', minLength: 1, default: 'backups' },
    BACKUP_KEEP: { type: 'integer', minimum: 1, default: 5 },
    // No minLength here: the schema's error would echo the secret; loadConfig checks it.
    JWT_SECRET: { type: 'string' },
    JWT_TTL_SECONDS: { type: 'integer', minimum: 60, maximum: 2_592_000, default: 3600 },
    BCRYPT_ROUNDS: { type: 'integer', minimum: 4, maximum: 15 },
    CACHE_PREFIX: { type: 'string', maxLength: 100, default: 'enerlink' },
    CACHE_TTL_SECONDS: { type: 'integer', minimum: 1, maximum: 604800, default: 300 },
    CACHE_LOCAL_TTL_MS: { type: 'integer', minimum: 0, maximum: 60_000, default: 1000 },
    CACHE_LOCAL_MAX_ENTRIES: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 50_000 },
    TRADE_BATCH_MAX: { type: 'integer', minimum: 1, maximum: 1000, default: 64 },
    TRADE_BATCHES_IN_FLIGHT: { type: 'integer', minimum: 1, maximum: 100, default: 1 },
    SEED: { type: 'integer', minimum: 0, maximum: MAX_SEED, default: DEFAULT_SEED },
    SEED_USERS: { type: 'integer', minimum: 1, maximum: MAX_SEED_ROWS, default: 5 },
    SEED_TRADES: { type: 'integer', minimum: 0, maximum: MAX_SEED_ROWS, default: 0 },
    SEED_ALLOW_PRODUCTION: { type: 'string', enum: ['0', '1'], default: '0' },
    // No minLength here either: loadConfig checks it without echoing the token.
    ADMIN_TOKEN: { type: 'string' },
    ADMIN_RATE_LIMIT_PER_MINUTE: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 60 },
    LOGIN_RATE_LIMIT_PER_ADDRESS: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 60 },
    LOGIN_RATE_LIMIT_PER_ACCOUNT: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10 },
    // parsed by parseTrustProxy: false, a hop count, or a list of proxy addresses
    TRUST_PROXY: { type: 'string', default: 'false' },
    // No minLength either: loadConfig checks it without echoing the secret.
    PAYMENT_WEBHOOK_SECRET: { type: 'string' },
  },
} as const;

/** Shortest ADMIN_TOKEN accepted (as long as JWT_SECRET's minimum: guessing it must be hopeless). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Shortest PAYMENT_WEBHOOK_SECRET accepted: the gateway signs with it, so it is as hard to guess as JWT_SECRET. */
export const MIN_PAYMENT_WEBHOOK_SECRET_LENGTH = 32;

/** Shortest HMAC secret accepted for signing access tokens (256 bits of ASCII). */
export const MIN_JWT_SECRET_LENGTH = 32;

type NodeEnv = (typeof NODE_ENVS)[number];
/** TRUST_PROXY as Fastify's `trustProxy` takes it. */
export type TrustProxy = false | number | string[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated settings of one enerlink process. */
export interface AppConfig {
  readonly nodeEnv: NodeEnv;
  readonly isProduction: boolean;
  readonly databaseUrl: string;
  /** Database name taken from `databaseUrl`. */
  readonly databaseName: string;
  readonly redisUrl: string;
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  /** Log lines are written to stdout in batches of this many bytes, or every 100 ms (see bufferedStdout); 0: a write per line. */
  readonly logBufferBytes: number;
  /** How long startup keeps retrying an unreachable database before giving up. */
  readonly databaseConnectTimeoutMs: number;
  /** How long a query waits for a pooled connection before failing (the pool never strands a request). */
  readonly databaseAcquireTimeoutMs: number;
  /** `statement_timeout` (and idle-in-transaction timeout) of every session: no query runs unbounded. */
  readonly databaseStatementTimeoutMs: number;
  /** How long a Redis command may take before it fails and the read falls back to PostgreSQL. */
  readonly redisCommandTimeoutMs: number;
  /** Whether startup applies pending migrations (otherwise it waits, not ready, for an operator). */
  readonly migrationsRun: boolean;
  /** Whether startup applies pending reference seeders after the migrations (default: as MIGRATIONS_RUN). */
  readonly referenceSeedRun: boolean;
  readonly migrationLockTimeoutMs: number;
  readonly migrationDdlLockTimeoutMs: number;
  readonly migrationDdlRetries: number;
  readonly backupBeforeMigrate: boolean;
  readonly backupDir: string;
  readonly backupKeep: number;
  /** HMAC key of the access tokens. */
  readonly jwtSecret: string;
  /** True when `JWT_SECRET` was unset and a random one was made for this process (not in production). */
  readonly jwtSecretGenerated: boolean;
  /** Lifetime of an access token, in seconds. */
  readonly jwtTtlSeconds: number;
  /** bcrypt cost factor for new password hashes. */
  readonly bcryptRounds: number;
  /** First segment of every Redis key and channel enerlink uses. */
  readonly cachePrefix: string;
  /** Lifetime of every cache entry. */
  readonly cacheTtlSeconds: number;
  /**
   * The staleness bound of the in-process tier (profiles, token standings): no local entry is
   * served once this many milliseconds have passed since its value was read. 0 turns the tier off.
   */
  readonly cacheLocalTtlMs: number;
  /** Most entries the in-process tier holds (least recently used go first). */
  readonly cacheLocalMaxEntries: number;
  /**
   * The bearer token of the admin API. Undefined only in production without ADMIN_TOKEN, where
   * the service refuses to start (the command-line tools do not need it).
   */
  readonly adminToken: string | undefined;
  /** True when `ADMIN_TOKEN` was unset and a random one was made for this process (not in production). */
  readonly adminTokenGenerated: boolean;
  /** Admin API requests one client address may make per minute. */
  readonly adminRateLimitPerMinute: number;
  /** Logins one client address may attempt per minute. */
  readonly loginRateLimitPerAddress: number;
  /** Logins one account (email) may be attempted per minute, from anywhere. */
  readonly loginRateLimitPerAccount: number;
  /**
   * Which `X-Forwarded-For` hops to believe, as Fastify's `trustProxy` takes it: `false` (none),
   * the number of proxies in front, or their addresses/CIDR ranges. Never "all": the leftmost
   * entry is written by the client.
   */
  readonly trustProxy: TrustProxy;
  /** HMAC key the payment gateway signs its webhooks with (confirming an ON_RAMP's payment). */
  readonly paymentWebhookSecret: string;
  /** True when `PAYMENT_WEBHOOK_SECRET` was unset and a random one was made for this process (not in production). */
  readonly paymentWebhookSecretGenerated: boolean;
  /** How POST /trades settles takes together (TradeDesk): most takes a transaction, most transactions at once. */
  readonly tradeBatches: { readonly batchMax: number; readonly batchesInFlight: number };
  /** What the fixture seeder builds (`npm run seed`, `npx mikro-orm seeder:run`, `npm run db:reset`). */
  readonly seeding: SeedingConfig;
}

/** The fixture data set: SEED, SEED_USERS, SEED_TRADES and SEED_ALLOW_PRODUCTION. */
export interface SeedingConfig {
  /** The same seed gives the same rows, byte for byte. */
  readonly seed: number;
  /** Users to build, each with one wallet and one smart meter. */
  readonly users: number;
  /** Market trades between fixture users, each with its buyer's and seller's transaction log. */
  readonly trades: number;
  /** SEED_ALLOW_PRODUCTION=1: seeding a production database is allowed (with a loud warning). */
  readonly allowProduction: boolean;
}

interface RawEnv {
  NODE_ENV: NodeEnv;
  DATABASE_URL: string;
  REDIS_URL: string;
  PORT: number;
  HOST?: string;
  LOG_LEVEL?: LogLevel;
  LOG_BUFFER_BYTES: number;
  DATABASE_CONNECT_TIMEOUT_MS: number;
  DATABASE_ACQUIRE_TIMEOUT_MS: number;
  DATABASE_STATEMENT_TIMEOUT_MS: number;
  REDIS_COMMAND_TIMEOUT_MS: number;
  MIGRATIONS_RUN?: boolean;
  REFERENCE_SEED_RUN?: boolean;
  MIGRATION_LOCK_TIMEOUT_MS: number;
  MIGRATION_DDL_LOCK_TIMEOUT_MS: number;
  MIGRATION_DDL_RETRIES: number;
  BACKUP_BEFORE_MIGRATE?: boolean;
  BACKUP_DIR: string;
  BACKUP_KEEP: number;
  JWT_SECRET?: string;
  JWT_TTL_SECONDS: number;
  BCRYPT_ROUNDS?: number;
  CACHE_PREFIX: string;
  CACHE_TTL_SECONDS: number;
  CACHE_LOCAL_TTL_MS: number;
  CACHE_LOCAL_MAX_ENTRIES: number;
  TRADE_BATCH_MAX: number;
  TRADE_BATCHES_IN_FLIGHT: number;
  SEED: number;
  SEED_USERS: number;
  SEED_TRADES: number;
  SEED_ALLOW_PRODUCTION: '0' | '1';
  ADMIN_TOKEN?: string;
  ADMIN_RATE_LIMIT_PER_MINUTE: number;
  LOGIN_RATE_LIMIT_PER_ADDRESS: number;
  LOGIN_RATE_LIMIT_PER_ACCOUNT: number;
  TRUST_PROXY: string;
  PAYMENT_WEBHOOK_SECRET?: string;
}

/**
 * Reads and validates the environment. The only reader of `process.env` in enerlink:
 * every other module receives an `AppConfig`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = pickKnown(env);
  const validateEnv = envValidator();
  if (!validateEnv(raw)) throw new ConfigError(describeSchemaError(validateEnv.errors ?? [], env));
  const databaseName = parseDatabaseUrl(raw.DATABASE_URL);
  parseRedisUrl(raw.REDIS_URL);
  const cachePrefixProblem = describeBadNamespace(raw.CACHE_PREFIX);
  if (cachePrefixProblem) {
    throw new ConfigError(`Invalid environment variable CACHE_PREFIX: ${cachePrefixProblem}, got ${JSON.stringify(raw.CACHE_PREFIX)}`);
  }
  if (raw.HOST !== undefined && !isListenableHost(raw.HOST)) {
    throw new ConfigError(`Invalid environment variable HOST: expected an IP address or a host name to listen on, got ${JSON.stringify(raw.HOST)}`);
  }
  const isProduction = raw.NODE_ENV === 'production';
  const jwtSecret = checkJwtSecret(raw.JWT_SECRET, isProduction);
  const adminToken = checkAdminToken(raw.ADMIN_TOKEN);
  const paymentWebhookSecret = checkSecret('PAYMENT_WEBHOOK_SECRET', raw.PAYMENT_WEBHOOK_SECRET, MIN_PAYMENT_WEBHOOK_SECRET_LENGTH, isProduction);
  return Object.freeze({
    nodeEnv: raw.NODE_ENV,
    isProduction,
    databaseUrl: raw.DATABASE_URL,
    databaseName,
    redisUrl: raw.REDIS_URL,
    port: raw.PORT,
    host: raw.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1'),
    logLevel: raw.LOG_LEVEL ?? (raw.NODE_ENV === 'test' ? 'silent' : 'info'),
    logBufferBytes: raw.LOG_BUFFER_BYTES,
    databaseConnectTimeoutMs: raw.DATABASE_CONNECT_TIMEOUT_MS,
    databaseAcquireTimeoutMs: raw.DATABASE_ACQUIRE_TIMEOUT_MS,
    databaseStatementTimeoutMs: raw.DATABASE_STATEMENT_TIMEOUT_MS,
    redisCommandTimeoutMs: raw.REDIS_COMMAND_TIMEOUT_MS,
    // production applies migrations deliberately (CLI or admin API), as the guide recommends
    migrationsRun: raw.MIGRATIONS_RUN ?? !isProduction,
    referenceSeedRun: raw.REFERENCE_SEED_RUN ?? raw.MIGRATIONS_RUN ?? !isProduction,
    migrationLockTimeoutMs: raw.MIGRATION_LOCK_TIMEOUT_MS,
    migrationDdlLockTimeoutMs: raw.MIGRATION_DDL_LOCK_TIMEOUT_MS,
    migrationDdlRetries: raw.MIGRATION_DDL_RETRIES,
    backupBeforeMigrate: raw.BACKUP_BEFORE_MIGRATE ?? isProduction,
    backupDir: raw.BACKUP_DIR,
    backupKeep: raw.BACKUP_KEEP,
    jwtSecret: jwtSecret ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: jwtSecret === undefined,
    jwtTtlSeconds: raw.JWT_TTL_SECONDS,
    // Tests hash many passwords; the lowest cost keeps them fast and changes nothing they check.
    bcryptRounds: raw.BCRYPT_ROUNDS ?? (raw.NODE_ENV === 'test' ? 4 : 10),
    cachePrefix: raw.CACHE_PREFIX,
    cacheTtlSeconds: raw.CACHE_TTL_SECONDS,
    cacheLocalTtlMs: raw.CACHE_LOCAL_TTL_MS,
    cacheLocalMaxEntries: raw.CACHE_LOCAL_MAX_ENTRIES,
    adminToken: adminToken ?? (isProduction ? undefined : randomBytes(32).toString('base64url')),
    adminTokenGenerated: adminToken === undefined && !isProduction,
    adminRateLimitPerMinute: raw.ADMIN_RATE_LIMIT_PER_MINUTE,
    loginRateLimitPerAddress: raw.LOGIN_RATE_LIMIT_PER_ADDRESS,
    loginRateLimitPerAccount: raw.LOGIN_RATE_LIMIT_PER_ACCOUNT,
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    paymentWebhookSecret: paymentWebhookSecret ?? randomBytes(32).toString('base64url'),
    paymentWebhookSecretGenerated: paymentWebhookSecret === undefined,
    tradeBatches: Object.freeze({ batchMax: raw.TRADE_BATCH_MAX, batchesInFlight: raw.TRADE_BATCHES_IN_FLIGHT }),
    seeding: Object.freeze({
      seed: raw.SEED,
      users: raw.SEED_USERS,
      trades: raw.SEED_TRADES,
      allowProduction: raw.SEED_ALLOW_PRODUCTION === '1',
    }),
  });
}

let compiledEnvValidator: ValidateFunction<RawEnv> | undefined;

// What env-schema's Ajv did: coerce the text of each variable, fill in the defaults.
const ENV_SCHEMA_OPTIONS = { allErrors: true, useDefaults: true, coerceTypes: true, allowUnionTypes: true, addUsedSchema: false } as const;

// Ajv itself rather than env-schema, which made an Ajv instance of its own, added ajv-formats
// and compiled a schema of its options on import: about twice the time of this (bench:startup).
// Compiled on first use, without checking the schema against the meta-schema (compiling that
// was half of what is left) nor optimizing the code of a validator that runs once.
function envValidator(): ValidateFunction<RawEnv> {
  compiledEnvValidator ??= new Ajv({ ...ENV_SCHEMA_OPTIONS, validateSchema: false, code: { optimize: false } }).compile<RawEnv>({
    ...schema,
    additionalProperties: false,
  });
  return compiledEnvValidator;
}

// The validator coerces and fills in the object it is given; pass only our variables, and treat
// empty strings as unset so `PORT= npm start` means "default", not "invalid".
function pickKnown(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const known: Record<string, unknown> = {};
  for (const name of Object.keys(schema.properties)) {
    const value = env[name];
    if (value !== undefined && value !== '') known[name] = value;
  }
  return known;
}

function describeSchemaError(errors: ErrorObject[], env: NodeJS.ProcessEnv): string {
  const first = errors[0] as (ErrorObject & { params: { allowedValues?: unknown[] } }) | undefined;
  if (!first) return 'Invalid environment';
  const name = first.instancePath.replace(/^\//, '');
  const allowed = first.params?.allowedValues ? ` (one of ${first.params.allowedValues.join(', ')})` : '';
  return `Invalid environment variable ${name}: ${first.message}${allowed}, got ${JSON.stringify(env[name])}`;
}

function checkJwtSecret(value: string | undefined, isProduction: boolean): string | undefined {
  return checkSecret('JWT_SECRET', value, MIN_JWT_SECRET_LENGTH, isProduction);
}

// A secret required in production and long enough. Never echoes the value.
function checkSecret(name: string, value: string | undefined, minLength: number, isProduction: boolean): string | undefined {
  if (value === undefined) {
    if (isProduction) throw new ConfigError(`Invalid environment variable ${name}: required when NODE_ENV=production`);
    return undefined;
  }
  if (value.length < minLength) {
    throw new ConfigError(`Invalid environment variable ${name}: must be at least ${minLength} characters, got ${value.length}`);
  }
  return value;
}

// Never echoes the value either. Required in production by the service itself (see
// requireAdminToken), not here: the command-line tools run in production without one.
function checkAdminToken(value: string | undefined): string | undefined {
  if (value !== undefined && value.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(`Invalid environment variable ADMIN_TOKEN: must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters, got ${value.length}`);
  }
  return value;
}

/** The admin token of a service about to start; production refuses to start without one. */
export function requireAdminToken(config: AppConfig): string {
  if (!config.adminToken) {
    throw new ConfigError(
      `Invalid environment variable ADMIN_TOKEN: required when NODE_ENV=production (at least ${MIN_ADMIN_TOKEN_LENGTH} characters, e.g. openssl rand -base64 32)`,
    );
  }
  return config.adminToken;
}

/**
 * TRUST_PROXY: `false`, a hop count (`1` behind one load balancer), or a comma-separated list of
 * proxy addresses or CIDR ranges. `true` is refused: it would believe the leftmost
 * `X-Forwarded-For` entry, which the client writes, so anyone could pick their address.
 */
function parseTrustProxy(value: string): TrustProxy {
  const text = value.trim();
  if (text === 'false' || text === '0') return false;
  if (text === 'true') {
    throw new ConfigError(
      'Invalid environment variable TRUST_PROXY: true would trust the client-written X-Forwarded-For; give the number of proxies in front (e.g. 1) or their addresses (e.g. 10.0.0.0/8,192.168.1.5)',
    );
  }
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 100) throw new ConfigError(`Invalid environment variable TRUST_PROXY: at most 100 proxy hops, got ${JSON.stringify(value)}`);
    return hops;
  }
  const proxies = text.split(',').map(entry => entry.trim());
  const address = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)(?:\/\d{1,3})?$|^(?:loopback|linklocal|uniquelocal)$/;
  const bad = proxies.find(entry => !address.test(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      `Invalid environment variable TRUST_PROXY: expected false, a hop count or comma-separated proxy addresses/CIDR ranges, got ${JSON.stringify(value)}`,
    );
  }
  return proxies;
}

function parseDatabaseUrl(value: string): string {
  const url = tryUrl(value, 'DATABASE_URL');
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`Invalid environment variable DATABASE_URL: expected a postgres:// URL, got ${JSON.stringify(value)}`);
  }
  const databaseName = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!databaseName || databaseName.includes('/')) {
    throw new ConfigError(`Invalid environment variable DATABASE_URL: the URL must name a database (postgres://host:5432/enerlink), got ${JSON.stringify(value)}`);
  }
  return databaseName;
}

function parseRedisUrl(value: string): void {
  const url = tryUrl(value, 'REDIS_URL');
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`Invalid environment variable REDIS_URL: expected a redis:// or rediss:// URL, got ${JSON.stringify(value)}`);
  }
}

/**
 * Why `name` cannot be a cache namespace, or undefined if it can. Letters, digits, '_', '.' and
 * '-' only: no ':' (the key separator) and no glob characters, so `SCAN MATCH <namespace>:*`
 * can never reach keys outside the namespace.
 */
export function describeBadNamespace(name: string): string | undefined {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) ? undefined : "expected letters, digits, '_', '.' or '-' (starting with a letter or digit)";
}

// An IP address, or a host name of RFC 1123 labels that is not all digits and dots (999.1.1.1
// is a mistyped address, not a name to look up).
function isListenableHost(host: string): boolean {
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) return true;
  if (/^[\d.]+$/.test(host)) return false;
  return host.length <= 253 && host.split('.').every(label => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

function tryUrl(value: string, name: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new ConfigError(`Invalid environment variable ${name}: not a URL, got ${JSON.stringify(value)}`);
  }
}

/** `loadConfig` for command-line entry points: a bad variable ends the process with one line. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`enerlink: ${error.message}\n`);
    process.exit(1);
  }
}
