import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import type { AppConfig } from './config.ts';
import authPlugin from './auth/auth.plugin.ts';
import authRoutes from './auth/auth.routes.ts';
import healthRoutes from './health/health.routes.ts';
import problemDetails from './http/problem-details.ts';
import idrsRoutes from './idrs/idrs.routes.ts';
import meterRoutes from './meters/meters.routes.ts';
import cachePlugin from './plugins/cache.ts';
import eventsPlugin from './plugins/events.ts';
import ormPlugin from './plugins/orm.ts';
import readsPlugin from './plugins/reads.ts';
import tradeRoutes from './trading/trades.routes.ts';
import redisPlugin from './plugins/redis.ts';
import userRoutes from './users/users.routes.ts';
import walletRoutes from './wallets/wallets.routes.ts';

/** What the app needs from the outside; it owns them from here on and closes them on `app.close()`. */
export interface AppDependencies {
  config: AppConfig;
  orm: MikroORM;
  redis: Redis;
}

/** Builds the enerlink HTTP app: registers everything, never listens. */
export async function buildApp(deps: AppDependencies, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: deps.config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'],
    },
    ...options,
  });
  await app.register(problemDetails);
  await app.register(ormPlugin, { orm: deps.orm });
  await app.register(redisPlugin, { redis: deps.redis });
  await app.register(eventsPlugin);
  await app.register(cachePlugin, { prefix: deps.config.cachePrefix, ttlSeconds: deps.config.cacheTtlSeconds });
  await app.register(healthRoutes);
  await app.register(readsPlugin);
  await app.register(authPlugin, { config: deps.config });
  await app.register(authRoutes, { bcryptRounds: deps.config.bcryptRounds });
  await app.register(userRoutes);
  await app.register(walletRoutes);
  await app.register(meterRoutes);
  await app.register(tradeRoutes);
  await app.register(idrsRoutes);
  return app;
}
