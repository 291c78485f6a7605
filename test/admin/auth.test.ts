import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loggerOptions } from '../../src/logging.ts';
import { tokenFingerprint } from '../../src/admin/admin-token.ts';
import { createTestOrm } from '../helper.ts';
import { createRedis } from '../../src/db/redis.ts';
import { expectProblem } from '../api.ts';
import { startServiceProcess } from '../processes.ts';
import { auditRows, newToken, recordedMigrations, startAdminApi, type AdminApi } from './admin-api.ts';

const apis: AdminApi[] = [];
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  for (const api of apis) await api.close();
});

async function api(label: string, options: Parameters<typeof startAdminApi>[1] = {}): Promise<AdminApi> {
  const started = await startAdminApi(label, options);
  apis.push(started);
  return started;
}

describe('the admin token', () => {
  it('no token, a wrong one, one of another length or another scheme: 401, nothing done, and an audit entry each', async () => {
    const { call, db, token } = await api('auth', { migrate: false });
    const wrong = newToken();
    const attempts: Array<[string, Record<string, string>, string | null]> = [
      ['no header', {}, null],
      ['wrong token of the same length', { authorization: `Bearer ${wrong}` }, tokenFingerprint(wrong)],
      ['shorter token', { authorization: `Bearer ${token.slice(0, -1)}` }, tokenFingerprint(token.slice(0, -1))],
      ['longer token', { authorization: `Bearer ${token}x` }, tokenFingerprint(`${token}x`)],
      ['basic auth', { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` }, null],
      ['empty bearer', { authorization: 'Bearer ' }, null],
    ];
    for (const [label, headers, fingerprint] of attempts) {
      const reply = await call('POST', '/admin/migrations/up', {}, headers);
      expectProblem(reply, 401, 'UNAUTHORIZED');
      expect(reply.headers['www-authenticate'], label).toBe('Bearer');
      const [entry] = await auditRows(db, 1);
      expect(entry, label).toMatchObject({
        action: 'migrations.up',
        path: '/admin/migrations/up',
        status_code: 401,
        outcome: 'refused',
        token_fingerprint: fingerprint,
        client_address: '127.0.0.1',
        result: { code: 'UNAUTHORIZED' },
      });
      expect(Number(entry.duration_ms)).toBeGreaterThanOrEqual(0);
      expect(Date.now() - new Date(entry.started_at).getTime()).toBeLessThan(60_000);
    }
    expect(await recordedMigrations(db)).toEqual({});
    expect(JSON.stringify(await auditRows(db, 100))).not.toContain(token);

    const accepted = await call('GET', '/admin/migrations');
    expect(accepted.statusCode).toBe(200);
    expect((await auditRows(db, 1))[0]).toMatchObject({ outcome: 'succeeded', token_fingerprint: tokenFingerprint(token) });
    // the scheme is case-insensitive, as RFC 9110 says
    expect((await call('GET', '/admin/migrations', undefined, { authorization: `bearer ${token}` })).statusCode).toBe(200);
  });

  it('is rate-limited per client address, wrong guesses included; the 429 is a problem and audited', async () => {
    const { call, db, token } = await api('rate', { migrate: false, env: { ADMIN_RATE_LIMIT_PER_MINUTE: '3' } });
    for (let i = 0; i < 3; i++) expect((await call('GET', '/admin/migrations', undefined, { authorization: `Bearer ${newToken()}` })).statusCode).toBe(401);
    const limited = await call('GET', '/admin/migrations');
    expectProblem(limited, 429, 'TOO_MANY_REQUESTS');
    expect(limited.json().detail).toMatch(/^At most 3 admin requests per minute from one address \(ADMIN_RATE_LIMIT_PER_MINUTE\); retry in/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await auditRows(db, 1))[0]).toMatchObject({ status_code: 429, outcome: 'refused', token_fingerprint: tokenFingerprint(token) });
  });

  it('never reaches the logs, nor do passwords; every reply carries the security headers', async () => {
    const { db, config, token } = await api('logs', { migrate: true });
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _encoding, done) => void (lines.push(String(chunk)), done()) });
    const orm = await createTestOrm(db, config);
    await orm.connect();
    const redis = createRedis(config);
    await redis.connect();
    const app = await buildApp({ config, orm, redis }, { logger: loggerOptions({ ...config, logLevel: 'trace' }, stream) });
    cleanup.push(() => app.close());
    const password = 'correct horse battery staple';
    const email = `logs.${Date.now()}@example.test`;
    const replies = [
      await app.inject({ method: 'GET', url: '/admin/migrations', headers: { authorization: `Bearer ${token}` } }),
      await app.inject({ method: 'GET', url: '/admin/migrations', headers: { authorization: `Bearer ${token}nope` } }),
      await app.inject({ method: 'POST', url: '/admin/cache/purge', headers: { authorization: `Bearer ${token}` }, payload: { token, password } }),
      await app.inject({ method: 'POST', url: '/auth/register', payload: { name: 'Log Test', email, password } }),
      await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } }),
      await app.inject({ method: 'GET', url: '/health/live' }),
    ];
    expect(replies.map(reply => reply.statusCode)).toEqual([200, 401, 400, 201, 200, 200]);
    const jwt = replies[4].json().token;
    // what a careless log call would write
    app.log.info({ req: { headers: { authorization: `Bearer ${token}` } }, body: { password }, adminToken: token }, 'careless');

    const log = lines.join('');
    expect(log).toContain('admin migrations.status: succeeded (200)');
    expect(log).toContain('careless');
    for (const secret of [token, password, jwt]) expect(log).not.toContain(secret);
    // the audit entry of the purge keeps the body minus its secrets
    expect((await auditRows(db, 1))[0].params).toEqual({ body: { token: '[redacted]', password: '[redacted]' } });

    for (const reply of replies) {
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(reply.headers['content-security-policy']).toContain("default-src 'self'");
      expect(reply.headers['strict-transport-security']).toBeDefined();
    }
  });
});

describe('starting the service', () => {
  it('in production without ADMIN_TOKEN, or with a short one, refuses with one line and exit 1', async () => {
    const base = { NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(32), PAYMENT_WEBHOOK_SECRET: 'w'.repeat(32), DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/enerlink_never_used' };
    const missing = startServiceProcess({ ...base, ADMIN_TOKEN: '' });
    expect(await missing.exited).toBe(1);
    expect(missing.stderr).toBe(
      'enerlink: Invalid environment variable ADMIN_TOKEN: required when NODE_ENV=production (at least 32 characters, e.g. openssl rand -base64 32)\n',
    );
    const short = startServiceProcess({ ...base, ADMIN_TOKEN: 'hunter2-hunter2' });
    expect(await short.exited).toBe(1);
    expect(short.stderr).toBe('enerlink: Invalid environment variable ADMIN_TOKEN: must be at least 32 characters, got 15\n');
    expect(short.stdout + short.stderr).not.toContain('hunter2');
  });

  it('in development without ADMIN_TOKEN, generates one, prints it once, and it works', async () => {
    const { db } = await api('dev_token', { migrate: false });
    const service = startServiceProcess({ DATABASE_URL: db.url, CACHE_PREFIX: db.name, ADMIN_TOKEN: '' });
    cleanup.push(() => service.child.kill('SIGKILL'));
    const port = await service.port();
    const printed = [...service.stdout.matchAll(/ADMIN_TOKEN is not set; this process generated one \(development only, valid until it exits\): (\S+)\n/g)];
    expect(printed).toHaveLength(1);
    const generated = printed[0][1];
    expect(generated.length).toBeGreaterThanOrEqual(32);
    const status = await fetch(`http://127.0.0.1:${port}/admin/migrations`, { headers: { authorization: `Bearer ${generated}` } });
    expect(status.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/admin/migrations`)).status).toBe(401);
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    // printed once, never in a log line
    const logLines = service.stdout.split('\n').filter(line => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(generated);
  });
});
