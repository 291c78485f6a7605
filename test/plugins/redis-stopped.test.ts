import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { AppConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { signUp, type Account } from '../api.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';
import { startOwnRedis, type OwnRedis } from '../own-redis.ts';

describe('a Redis that stops answering (SIGSTOP)', () => {
  let db: TestDatabase;
  let redisServer: OwnRedis & { remove: () => Promise<void> };
  let config: AppConfig;
  let app: FastifyInstance;
  let account: Account;

  /** The reply, or a failure if none came: a hang is the bug, not a slow answer (the bound is generous). */
  async function answered(request: InjectOptions | string): Promise<LightMyRequestResponse> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(request)} within 15 s`)), 15_000);
    });
    try {
      return await Promise.race([app.inject(request), hang]);
    } finally {
      clearTimeout(timer);
    }
  }

  beforeAll(async () => {
    redisServer = await startOwnRedis();
    db = await createTestDatabase('redis_stopped');
    config = { ...db.config, redisUrl: redisServer.url, redisCommandTimeoutMs: 300 };
    app = await buildTestApp(db, config);
    await migratorOf(app.orm).up();
    account = await signUp(app, 'Steady');
  });
  afterAll(async () => {
    redisServer?.resume();
    await app?.close();
    await redisServer?.remove();
    await db?.drop();
  });

  it('keeps answering from PostgreSQL, reports Redis down, and uses the cache again once it answers', async () => {
    expect((await answered({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
    expect(await app.redis.exists(app.cache.key('user', account.userId))).toBe(1);
    // changed behind the cache's back (no entity event): only a read from PostgreSQL sees it
    await db.query(`update "user" set name = 'Changed in SQL' where user_id = ?`, [account.userId]);

    redisServer.pause();
    // every request answers, from PostgreSQL, while Redis is stopped: before and after it is noticed
    for (let n = 0; n < 5; n++) {
      const me = await answered({ url: '/users/me', headers: account.headers });
      expect(me.statusCode).toBe(200);
    }
    await vi.waitFor(async () => {
      const ready = await answered('/health/ready');
      expect(ready.json().redis).not.toBe('ready');
    }, { timeout: 15_000, interval: 100 });
    expect(app.redisState(), app.redis.status).toBe('down');
    expect(app.cache.active, `${app.redis.status} ${app.cache.generation}`).toBe(false);
    const me = await answered({ url: '/users/me', headers: account.headers });
    expect(me.json().name).toBe('Changed in SQL'); // PostgreSQL's answer, not the stale entry
    // login (rate limits count in the process meanwhile), logout and writes go on
    const login = await answered({ method: 'POST', url: '/auth/login', payload: { email: account.email, password: 'correct horse battery' } });
    expect(login.statusCode).toBe(200);
    const second = { authorization: `Bearer ${login.json().token}` };
    expect((await answered({ method: 'POST', url: '/auth/logout', headers: second })).statusCode).toBe(204);
    expect((await answered({ url: '/users/me', headers: second })).statusCode).toBe(401);

    redisServer.resume();
    await vi.waitFor(() => expect(app.cache.active).toBe(true), { timeout: 30_000, interval: 100 });
    expect((await answered('/health/ready')).json().redis).toBe('ready');
    expect((await answered({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
  });
});
