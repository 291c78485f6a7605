import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';

export type RedisState = 'ready' | 'connecting' | 'down';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /** Whether Redis can be used right now; when it is down enerlink serves uncached. */
    redisState(): RedisState;
  }
}

/**
 * Shares one Redis connection. Redis going away never stops the service: the state change
 * is logged once (not per request) and reported by `/health/ready`.
 */
export default fp<{ redis: Redis }>(
  async (app, { redis }) => {
    let reported: RedisState | undefined;
    const state = (): RedisState =>
      redis.status === 'ready' ? 'ready' : ['connecting', 'connect', 'reconnecting', 'wait'].includes(redis.status) ? 'connecting' : 'down';
    const report = (error?: Error) => {
      const now = error ? 'down' : state();
      if (now === reported) return;
      reported = now;
      if (now === 'ready') app.log.info('redis: connected');
      else app.log.warn({ err: error?.message }, 'redis: unavailable, serving without cache until it is back');
    };
    redis.on('ready', () => report());
    redis.on('error', error => report(error));
    redis.on('end', () => report());
    app.decorate('redis', redis);
    app.decorate('redisState', state);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
  },
  { name: 'redis' },
);
