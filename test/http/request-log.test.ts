import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loggerOptions } from '../../src/logging.ts';
import { createRedis } from '../../src/db/redis.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { signUp } from '../api.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';

describe('the request log', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('request_log');
    const config = { ...db.config, logLevel: 'info' as const };
    const orm = await createTestOrm(db, config);
    await orm.connect();
    const redis = createRedis(config);
    await redis.connect();
    const stream = new Writable({ write: (chunk, _encoding, done) => void (text.push(String(chunk)), lines.push(JSON.parse(String(chunk))), done()) });
    app = await buildApp({ config, orm, redis }, { logger: loggerOptions(config, stream) });
    await migratorOf(app.orm).up();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('has one line per request, at the response: id, method, url, status, response time; no secret', async () => {
    const account = await signUp(app, 'Logged');
    lines.length = 0;
    text.length = 0;
    const replies = [
      await app.inject({ url: `/users/${account.userId}`, headers: account.headers }),
      await app.inject({ url: '/users/me', headers: { authorization: 'Bearer not.a.token' } }),
      await app.inject({ url: '/no/such/route' }),
      await app.inject({ method: 'POST', url: '/auth/login', payload: { email: account.email, password: 'correct horse battery' } }),
    ];
    expect(replies.map(reply => reply.statusCode)).toEqual([200, 401, 404, 200]);
    const requestLines = lines.filter(line => line.msg === 'request completed');
    expect(requestLines).toHaveLength(replies.length);
    expect(lines.filter(line => line.msg === 'incoming request')).toHaveLength(0);
    expect(requestLines.map(({ method, url, statusCode }) => ({ method, url, statusCode }))).toEqual([
      { method: 'GET', url: `/users/${account.userId}`, statusCode: 200 },
      { method: 'GET', url: '/users/me', statusCode: 401 },
      { method: 'GET', url: '/no/such/route', statusCode: 404 },
      { method: 'POST', url: '/auth/login', statusCode: 200 },
    ]);
    for (const line of requestLines) {
      expect(line).toMatchObject({ level: 30, reqId: expect.any(String), responseTime: expect.any(Number) });
    }
    const log = text.join('');
    for (const secret of [account.token, replies[3].json().token, 'correct horse battery']) expect(log).not.toContain(secret);
  });

  it('other lines are still redacted', async () => {
    text.length = 0;
    app.log.info({ req: { headers: { authorization: 'Bearer secret-in-a-header' } }, body: { password: 'secret-in-a-body' } }, 'careless');
    const log = text.join('');
    expect(log).toContain('careless');
    expect(log).not.toContain('secret-in-a-header');
    expect(log).not.toContain('secret-in-a-body');
  });
});
