import { createRequire } from 'node:module';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { TooManyRequestsError } from '../errors.ts';
import { normalizeEmail } from '../users/user.service.ts';

type StoreCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** What @fastify/rate-limit asks of a store. */
interface RateLimitStore {
  incr(key: string, callback: StoreCallback, timeWindow: number, max: number): void;
  child(options: object): RateLimitStore;
}

// @fastify/rate-limit's own stores (the Redis one is an atomic INCR + PEXPIRE script); the
// package has no types for them, hence the require.
const require = createRequire(import.meta.url);
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => RateLimitStore;
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, cache: number) => RateLimitStore;

/**
 * Counts in Redis, shared by the fleet; while Redis is down or not answering (a command timed
 * out) it counts in this process instead, so the limit never turns off.
 */
function fleetStore(redis: Redis, namespace: string): new () => RateLimitStore {
  const shared = new RedisStore(false, false, redis, namespace);
  const local = new LocalStore(false, false, 10_000);
  const store: RateLimitStore = {
    incr(key, callback, timeWindow, max) {
      if (redis.status !== 'ready') return local.incr(key, callback, timeWindow, max);
      shared.incr(key, (error, result) => (error ? local.incr(key, callback, timeWindow, max) : callback(null, result)), timeWindow, max);
    },
    child: () => store,
  };
  return function FleetStore() {
    return store;
  } as unknown as new () => RateLimitStore;
}

export interface LoginLimitOptions {
  redis: Redis;
  /** Redis key namespace (CACHE_PREFIX): test runs and deployments never share counters. */
  prefix: string;
  perAddress: number;
  perAccount: number;
}

/**
 * Rate limits of `POST /auth/login`, per client address and per account (the email, normalised,
 * whether it exists or not), each per minute: guessing is slow from one address and slow for
 * one account from many. Returns the check the handler runs first; beyond a limit it answers
 * `429 TOO_MANY_REQUESTS` with `Retry-After`.
 */
export async function loginLimits(app: FastifyInstance, { redis, prefix, perAddress, perAccount }: LoginLimitOptions) {
  await app.register(rateLimit, { global: false, store: fleetStore(redis, `${prefix}:login-limit:`) });
  const byAddress = app.createRateLimit({ max: perAddress, timeWindow: 60_000, keyGenerator: request => `address:${request.ip}` });
  const byAccount = app.createRateLimit({
    max: perAccount,
    timeWindow: 60_000,
    keyGenerator: request => `account:${normalizeEmail((request.body as { email: string }).email)}`,
  });

  return async function checkLoginLimits(request: FastifyRequest, reply: { header(name: string, value: string): unknown }): Promise<void> {
    const results = await Promise.all([byAddress(request), byAccount(request)]);
    const exceeded = results.flatMap(result => (!result.isAllowed && result.isExceeded ? [result] : []));
    if (exceeded.length === 0) return;
    const retryAfter = Math.max(1, ...exceeded.map(result => result.ttlInSeconds));
    reply.header('retry-after', String(retryAfter));
    const which = exceeded.map(result => (result.key.startsWith('address:') ? 'from this address' : 'for this account')).join(' and ');
    throw new TooManyRequestsError(`Too many login attempts ${which}; retry in ${retryAfter} s`);
  };
}
