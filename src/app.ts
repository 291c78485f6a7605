import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import type { AppConfig } from './config.ts';
import adminRoutes from './admin/admin.routes.ts';
import adminUi from './admin/admin-ui.ts';
import authPlugin from './auth/auth.plugin.ts';
import authRoutes from './auth/auth.routes.ts';
import healthRoutes from './health/health.routes.ts';
import docs from './http/docs.ts';
import inputPolicy from './http/input-policy.ts';
import problemDetails from './http/problem-details.ts';
import { buildSharedSerializer } from './http/response-serializers.ts';
import idrsRoutes from './idrs/idrs.routes.ts';
import meterRoutes from './meters/meters.routes.ts';
import lifecyclePlugin from './plugins/lifecycle.ts';
import ormPlugin from './plugins/orm.ts';
import readsPlugin from './plugins/reads.ts';
import offerRoutes from './trading/offers.routes.ts';
import tradeRoutes from './trading/trades.routes.ts';
import redisPlugin from './plugins/redis.ts';
import { lazyRequestLogger, loggerOptions, OneLinePerRequest } from './logging.ts';
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
  // Fastify takes a hop count at run time, but its types lack it: the function form is the same
  // rule (`request.ip` is the address `hops` proxies away) and is typed.
  const { trustProxy } = deps.config;
  const proxyTrust = typeof trustProxy === 'number' ? (_address: string, hop: number) => hop < trustProxy : trustProxy;
  const requestLines = new OneLinePerRequest();
  const app = Fastify({
    logger: loggerOptions(deps.config),
    logController: requestLines,
    childLoggerFactory: lazyRequestLogger,
    trustProxy: proxyTrust,
    schemaController: { compilersFactory: { buildSerializer: buildSharedSerializer } },
    ...options,
  });
  requestLines.attach(app.log);
  await app.register(problemDetails);
  // before every route: validation, error messages and the JSON parser are set per instance
  await app.register(inputPolicy);
  await app.register(docs);
  await app.register(ormPlugin, { orm: deps.orm });
  await app.register(redisPlugin, { redis: deps.redis });
  await app.register(lifecyclePlugin, { config: deps.config });
  await app.register(healthRoutes);
  await app.register(readsPlugin);
  await app.register(authPlugin, { config: deps.config });
  await app.register(authRoutes, { config: deps.config });
  await app.register(userRoutes);
  await app.register(walletRoutes);
  await app.register(meterRoutes);
  await app.register(offerRoutes);
  await app.register(tradeRoutes, { config: deps.config });
  await app.register(idrsRoutes, { webhookSecret: deps.config.paymentWebhookSecret });
  await app.register(adminRoutes, { config: deps.config });
  await app.register(adminUi);
  return app;
}
