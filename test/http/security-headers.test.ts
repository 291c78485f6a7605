import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { startApi, type Api } from '../api.ts';

/** The headers every reply should carry: what @fastify/helmet sets with the service's options. */
async function helmetReference(): Promise<Record<string, unknown>> {
  const reference = Fastify();
  await reference.register(fastifyHelmet, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  reference.get('/', async () => ({}));
  const { headers } = await reference.inject('/');
  await reference.close();
  return headers;
}

const SECURITY_HEADERS = /^(content-security-policy|cross-origin-|origin-agent-cluster|referrer-policy|strict-transport-security|x-)/;
const securityHeaders = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers).filter(([name]) => SECURITY_HEADERS.test(name)));

describe('security headers, computed once', () => {
  let api: Api;
  let app: FastifyInstance;

  beforeAll(async () => {
    api = await startApi('security_headers');
    app = api.app;
  });
  afterAll(async () => {
    await api.close();
  });

  it('are exactly those @fastify/helmet sets, on answers, errors and unknown routes alike', async () => {
    const expected = securityHeaders(await helmetReference());
    expect(Object.keys(expected).length).toBeGreaterThan(10);
    for (const url of ['/health/live', '/users/me', '/no/such/route', '/docs/json']) {
      const reply = await app.inject(url);
      expect(securityHeaders(reply.headers), url).toEqual(expected);
    }
  });
});
