import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type AppConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { expectProblem, signUp, type Account } from '../api.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';
import { startOwnRedis, type OwnRedis } from '../own-redis.ts';

const PASSWORD = 'correct horse battery';

describe('login rate limits', () => {
  let db: TestDatabase;
  let redisServer: OwnRedis & { remove: () => Promise<void> };
  let config: AppConfig;
  const apps: FastifyInstance[] = [];

  /** An instance of the service on the test's database and Redis; `settings` override the config. */
  async function instance(settings: Partial<AppConfig> = {}): Promise<FastifyInstance> {
    const app = await buildTestApp(db, { ...config, ...settings });
    apps.push(app);
    return app;
  }

  const login = (app: FastifyInstance, email: string, password: string, remoteAddress = '127.0.0.1', forwardedFor?: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password },
      remoteAddress,
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    });

  beforeAll(async () => {
    redisServer = await startOwnRedis();
    db = await createTestDatabase('login_limits');
    config = { ...db.config, redisUrl: redisServer.url, loginRateLimitPerAddress: 1000, loginRateLimitPerAccount: 1000 };
    const first = await instance();
    await migratorOf(first.orm).up();
  });
  // Bounded: about one run in seven, a close waits in pool.end() for connections still checked
  // out after their statement finished (seen with these instances and a Redis restart; cause not
  // found yet). Dropping the database at the end ends their sessions either way.
  const closeAll = (list: FastifyInstance[]) => Promise.race([Promise.all(list.map(app => app.close())), sleep(20_000)]);

  // each test's instances go with it; the first one (which migrated) stays for the file
  afterEach(async () => {
    await closeAll(apps.splice(1));
  });
  afterAll(async () => {
    await closeAll(apps);
    await redisServer?.remove();
    await db?.drop();
  });

  it('limits one account, from any address and across the fleet, with 429 and Retry-After; other accounts go on', async () => {
    const a = await instance({ loginRateLimitPerAccount: 4 });
    const b = await instance({ loginRateLimitPerAccount: 4 });
    const victim: Account = await signUp(apps[0], 'Victim'); // its login is the account's first attempt
    const bystander: Account = await signUp(apps[0], 'Bystander');
    // guesses spread over two instances and three addresses count together (in Redis)
    expectProblem(await login(a, victim.email, 'wrong guess 1', '10.0.0.1'), 401, 'INVALID_CREDENTIALS');
    expectProblem(await login(b, victim.email, 'wrong guess 2', '10.0.0.2'), 401, 'INVALID_CREDENTIALS');
    expectProblem(await login(a, victim.email.toUpperCase(), 'wrong guess 3', '10.0.0.3'), 401, 'INVALID_CREDENTIALS');
    const limited = await login(b, victim.email, PASSWORD, '10.0.0.4'); // even the right password
    expectProblem(limited, 429, 'TOO_MANY_REQUESTS');
    expect(limited.json().detail).toMatch(/for this account/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await login(a, bystander.email, PASSWORD, '10.0.0.1')).statusCode).toBe(200);
    expect(await redisServer.client(client => client.keys(`${config.cachePrefix}:login-limit:*`))).toEqual(
      expect.arrayContaining([`${config.cachePrefix}:login-limit:account:${victim.email}`]),
    );
  });

  it('limits one address whatever the accounts it tries', async () => {
    const app = await instance({ loginRateLimitPerAddress: 4 });
    for (let n = 0; n < 4; n++) expect((await login(app, `nobody${n}@example.test`, 'password', '10.1.0.1')).statusCode).toBe(401);
    const limited = await login(app, 'nobody9@example.test', 'password', '10.1.0.1');
    expectProblem(limited, 429, 'TOO_MANY_REQUESTS');
    expect(limited.json().detail).toMatch(/from this address/);
    expect((await login(app, 'nobody9@example.test', 'password', '10.1.0.2')).statusCode).toBe(401);
  });

  it('behind one proxy (TRUST_PROXY=1), a spoofed X-Forwarded-For entry does not make a new address', async () => {
    const trustProxy = loadConfig({ NODE_ENV: 'test', TRUST_PROXY: '1' }).trustProxy;
    const app = await instance({ loginRateLimitPerAddress: 3, trustProxy });
    // the proxy (10.9.9.9) appends the address it saw; the client wrote whatever it liked before it
    for (let n = 0; n < 3; n++) {
      expect((await login(app, `spoof${n}@example.test`, 'password', '10.9.9.9', `198.51.100.${n}, 203.0.113.7`)).statusCode).toBe(401);
    }
    expectProblem(await login(app, 'spoof9@example.test', 'password', '10.9.9.9', '198.51.100.77, 203.0.113.7'), 429, 'TOO_MANY_REQUESTS');
    // another client behind the same proxy is its own address
    expect((await login(app, 'spoof9@example.test', 'password', '10.9.9.9', '203.0.113.8')).statusCode).toBe(401);
  });

  it('a list of trusted proxies: only their hops are skipped', async () => {
    const trustProxy = loadConfig({ NODE_ENV: 'test', TRUST_PROXY: '10.9.0.0/16, 127.0.0.1' }).trustProxy;
    const app = await instance({ loginRateLimitPerAddress: 2, trustProxy });
    for (let n = 0; n < 2; n++) expect((await login(app, `list${n}@example.test`, 'password', '10.9.1.1', `192.0.2.${n}, 203.0.113.50`)).statusCode).toBe(401);
    expectProblem(await login(app, 'list9@example.test', 'password', '10.9.1.1', '192.0.2.99, 203.0.113.50'), 429, 'TOO_MANY_REQUESTS');
    // a direct client that is not a trusted proxy cannot name an address at all
    for (let n = 0; n < 2; n++) expect((await login(app, `direct${n}@example.test`, 'password', '203.0.113.60', `192.0.2.${n}`)).statusCode).toBe(401);
    expectProblem(await login(app, 'direct9@example.test', 'password', '203.0.113.60', '192.0.2.200'), 429, 'TOO_MANY_REQUESTS');
  });

  it('keeps limiting, per instance, while Redis is down, and shares the counts again when it is back', async () => {
    const app = await instance({ loginRateLimitPerAccount: 2 });
    await redisServer.stop();
    await vi.waitFor(() => expect(app.redis.status).not.toBe('ready'), { timeout: 15_000 });
    for (let n = 0; n < 2; n++) expect((await login(app, 'offline@example.test', 'password', `10.2.0.${n}`)).statusCode).toBe(401);
    expectProblem(await login(app, 'offline@example.test', 'password', '10.2.0.9'), 429, 'TOO_MANY_REQUESTS');
    await redisServer.start();
    await vi.waitFor(() => expect(app.redis.status).toBe('ready'), { timeout: 20_000 });
    for (let n = 0; n < 2; n++) expect((await login(app, 'online@example.test', 'password', `10.3.0.${n}`)).statusCode).toBe(401);
    expectProblem(await login(app, 'online@example.test', 'password', '10.3.0.9'), 429, 'TOO_MANY_REQUESTS');
    expect(await redisServer.client(client => client.get(`${config.cachePrefix}:login-limit:account:online@example.test`))).toBe('3');
  });
});

describe('TRUST_PROXY', () => {
  it.each([
    ['false', false],
    ['0', false],
    ['1', 1],
    ['2', 2],
    ['10.0.0.1', ['10.0.0.1']],
    ['10.0.0.0/8, 192.168.1.5', ['10.0.0.0/8', '192.168.1.5']],
    ['loopback,::1', ['loopback', '::1']],
  ])('takes %j', (value, expected) => {
    expect(loadConfig({ NODE_ENV: 'test', TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each(['true', 'yes', '10.0.0.1; rm -rf', '101'])('refuses %j naming the variable', value => {
    expect(() => loadConfig({ NODE_ENV: 'test', TRUST_PROXY: value })).toThrow(/^Invalid environment variable TRUST_PROXY: /);
  });
});
