import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdminApi, type AdminApi } from './admin-api.ts';

// Property: whatever a caller sends to an admin endpoint, the answer is never a 5xx, and every
// 4xx is an application/problem+json body that says what is wrong.
const RUNS = 500;
const TIMEOUT_MS = 180_000;

const MIGRATIONS = [
  'Migration20241102000000_InitialSchema',
  'Migration20241102000001_RenameProsumerToUser',
  'Migration20241102000002_AddCompositeIndexes',
  'Migration20261121000001_CacheOutbox',
  'Migration20261201000001_MarketIntegrity',
  'Migration20261202000001_LimitDefaults',
];

const apis: AdminApi[] = [];
afterAll(async () => {
  for (const api of apis) await api.close();
});

async function api(label: string): Promise<AdminApi> {
  const started = await startAdminApi(label);
  apis.push(started);
  return started;
}

/** Values a field may get: plausible ones, near misses, and anything JSON has. */
const plausible = fc.oneof(
  fc.constantFrom(...MIGRATIONS, '20241102000001', '20991231000000', 'Nope', '', '0', '../migrations', 'Migration*', 'a:b', '*'),
  fc.integer({ min: -3, max: 12 }),
  fc.boolean(),
  fc.constantFrom(null, 1.5, -0, 1e21, '1', 'true', [], {}),
  fc.string({ maxLength: 40 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Bodies: records of the route's own fields, with strangers mixed in, and any JSON at all. */
function bodies(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<{ json?: unknown; raw?: string }> {
  const known = Object.keys(fields);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record(fields, { requiredKeys: [] }).map(json => ({ json })) },
    { weight: 2, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 12 })), plausible, { maxKeys: 4 }).map(json => ({ json })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json => ({ json })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map(raw => ({ raw })) },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

/** Query strings: the route's own parameters with plausible and odd values, and raw text. */
function queries(known: string[]): fc.Arbitrary<string> {
  const value = fc.oneof(
    fc.constantFrom('1', '0', '-1', '50', '200', '201', '1e3', '9'.repeat(25), 'succeeded', 'refused', 'failed', 'migrations.up', ''),
    fc.string({ maxLength: 20 }),
  );
  const name = known.length > 0 ? fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 10 })) : fc.string({ maxLength: 10 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: fc.dictionary(name, value, { maxKeys: 3 }).map(params => new URLSearchParams(params).toString()) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(raw => encodeURI(raw)) },
  );
}

/** Replies by status class, per endpoint: a run that only ever got 400s would prove little. */
const seen = new Map<string, Set<string>>();

function expectWellFormed(reply: LightMyRequestResponse, sent: string): void {
  const endpoint = `${reply.raw.req.method} ${(reply.raw.req.url ?? '').split('?')[0]}`;
  if (!seen.has(endpoint)) seen.set(endpoint, new Set());
  seen.get(endpoint)!.add(`${String(reply.statusCode)[0]}xx`);
  expect(reply.statusCode, `${sent} -> ${reply.body}`).toBeLessThan(500);
  if (reply.statusCode < 400) {
    expect(() => JSON.parse(reply.body), sent).not.toThrow();
    return;
  }
  expect(reply.headers['content-type'], sent).toMatch(/^application\/problem\+json/);
  const problem = reply.json();
  expect(problem, sent).toMatchObject({ status: reply.statusCode, code: expect.any(String), title: expect.any(String), type: expect.stringMatching(/^urn:enerlink:problem:/) });
  expect(problem.detail.length, sent).toBeGreaterThan(0);
}

async function fuzzPost(target: AdminApi, url: string, fields: Record<string, fc.Arbitrary<unknown>>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(bodies(fields), fc.oneof({ weight: 9, arbitrary: fc.constant('') }, { weight: 1, arbitrary: queries([]) }), async (body, query) => {
      const headers: Record<string, string> = { authorization: `Bearer ${target.token}` };
      if (body.raw !== undefined) headers['content-type'] = 'application/json';
      const path = query ? `${url}?${query}` : url;
      const payload = body.raw ?? (body.json === undefined ? undefined : JSON.stringify(body.json));
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const reply = await target.app.inject({ method: 'POST', url: path, headers, payload });
      expectWellFormed(reply, `POST ${path} ${payload}`);
    }),
    { numRuns: RUNS },
  );
}

async function fuzzGet(target: AdminApi, url: string, known: string[]): Promise<void> {
  await fc.assert(
    fc.asyncProperty(queries(known), async query => {
      const path = query ? `${url}?${query}` : url;
      const reply = await target.app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${target.token}` } });
      expectWellFormed(reply, `GET ${path}`);
    }),
    { numRuns: RUNS },
  );
}

describe(`${RUNS} generated requests per admin endpoint: no 5xx, every 4xx a problem`, () => {
  it('GET /admin/migrations', async () => fuzzGet(await api('fuzz_status'), '/admin/migrations', []), TIMEOUT_MS);

  it('GET /admin/migrations/runs', async () => fuzzGet(await api('fuzz_runs'), '/admin/migrations/runs', ['limit', 'before']), TIMEOUT_MS);

  it('POST /admin/migrations/up', async () => {
    await fuzzPost(await api('fuzz_up'), '/admin/migrations/up', { to: plausible, dryRun: plausible });
  }, TIMEOUT_MS);

  it('POST /admin/migrations/down', async () => {
    const target = await api('fuzz_down');
    // reverted migrations come back now and then, so there is always something to revert
    const upNowAndThen = fc.integer({ min: 0, max: 9 });
    await fc.assert(
      fc.asyncProperty(bodies({ to: plausible, steps: plausible, dryRun: plausible }), upNowAndThen, async (body, dice) => {
        if (dice === 0) expect((await target.call('POST', '/admin/migrations/up')).statusCode).toBe(200);
        const payload = body.raw ?? (body.json === undefined ? undefined : JSON.stringify(body.json));
        const reply = await target.app.inject({
          method: 'POST',
          url: '/admin/migrations/down',
          headers: { authorization: `Bearer ${target.token}`, ...(payload !== undefined && { 'content-type': 'application/json' }) },
          payload,
        });
        expectWellFormed(reply, `POST /admin/migrations/down ${payload}`);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT_MS);

  it('GET /admin/schema/verify', async () => fuzzGet(await api('fuzz_verify'), '/admin/schema/verify', []), TIMEOUT_MS);

  it('POST /admin/seed', async () => {
    // small sets and a few seeds: every valid request really seeds, in well under a second
    const count = fc.oneof(fc.integer({ min: -2, max: 30 }), plausible, fc.constantFrom(100_001, 2 ** 31, 1e300));
    const seed = fc.oneof(fc.constantFrom(1, 2, 3, -1, 2 ** 32, 1.5, '1'), plausible.filter(value => typeof value !== 'number'));
    await fuzzPost(await api('fuzz_seed'), '/admin/seed', { users: count, trades: count, seed });
  }, TIMEOUT_MS);

  it('POST /admin/cache/purge', async () => {
    await fuzzPost(await api('fuzz_purge'), '/admin/cache/purge', { namespace: plausible });
  }, TIMEOUT_MS);

  it('GET /admin/audit', async () => fuzzGet(await api('fuzz_audit'), '/admin/audit', ['limit', 'before', 'action', 'outcome']), TIMEOUT_MS);

  afterAll(() => {
    // every endpoint was reached both with requests it carried out and with ones it refused
    for (const [endpoint, classes] of seen) {
      if (endpoint === 'GET /admin/migrations' && !classes.has('2xx')) continue; // the header fuzz shares it
      expect([...classes].sort(), endpoint).toEqual(['2xx', '4xx']);
    }
  });

  it('any Authorization header but the token: 401, never anything else', async () => {
    const target = await api('fuzz_auth');
    const header = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ maxLength: 60 }).map(token => `Bearer ${token}`),
      fc.constantFrom('Bearer', 'Bearer  ', 'Basic abc', `Bearer ${target.token.slice(1)}`, `Bearer ${target.token} x`, `Bearer ${target.token.toUpperCase()}`),
    );
    await fc.assert(
      fc.asyncProperty(header.filter(value => /^[\x20-\x7e]*$/.test(value)), async authorization => {
        const reply = await target.app.inject({ method: 'GET', url: '/admin/migrations', headers: { authorization } });
        expectWellFormed(reply, authorization);
        expect(reply.statusCode, authorization).toBe(401);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT_MS);
});
