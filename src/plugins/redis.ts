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

export interface RedisPluginOptions {
  redis: Redis;
  /** How often Redis is pinged to notice a server that keeps its socket open but stops answering. */
  heartbeatMs?: number;
}

/**
 * Shares one Redis connection. Redis going away never stops the service: the state change
 * is logged once (not per request) and reported by `/health/ready`. A server that stops
 * answering (SIGSTOP, overload) keeps its socket open, so ioredis alone would say `ready`: a
 * heartbeat PING that times out (REDIS_COMMAND_TIMEOUT_MS) marks it down and drops the
 * connection, which turns the cache off exactly as a lost connection does, until a
 * reconnection passes its ready check.
 */
export default fp<RedisPluginOptions>(
  async (app, { redis, heartbeatMs = 1000 }) => {
    let reported: RedisState | undefined;
    let unresponsive = false;
    const state = (): RedisState =>
      unresponsive
        ? 'down'
        : redis.status === 'ready'
          ? 'ready'
          : ['connecting', 'connect', 'reconnecting', 'wait'].includes(redis.status)
            ? 'connecting'
            : 'down';
    const report = (error?: Error) => {
      const now = error ? 'down' : state();
      if (now === reported) return;
      reported = now;
      if (now === 'ready') app.log.info('redis: connected');
      else app.log.warn({ err: error?.message }, 'redis: unavailable, serving without cache until it is back');
    };
    const onReady = () => {
      unresponsive = false;
      report();
    };
    const onError = (error: Error) => report(error);
    const onEnd = () => report();
    redis.on('ready', onReady);
    redis.on('error', onError);
    redis.on('end', onEnd);

    let beating = false;
    const heartbeat = setInterval(() => {
      if (beating || redis.status !== 'ready') return;
      beating = true;
      redis
        .ping()
        .catch((error: Error) => {
          if (redis.status !== 'ready') return;
          unresponsive = true;
          report(error);
          // destroy, not disconnect: a graceful close waits for the stopped server's FIN, which
          // never comes, and ioredis would stay `ready` on a dead socket
          redis.stream?.destroy();
        })
        .finally(() => {
          beating = false;
        });
    }, heartbeatMs);
    heartbeat.unref();

    app.decorate('redis', redis);
    app.decorate('redisState', state);
    app.addHook('onClose', async () => {
      clearInterval(heartbeat);
      redis.off('ready', onReady);
      redis.off('error', onError);
      redis.off('end', onEnd);
      redis.disconnect();
    });
  },
  { name: 'redis' },
);
