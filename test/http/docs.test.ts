import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type Api } from '../api.ts';

const ADMIN_OPERATIONS = [
  ['get', '/admin/migrations'],
  ['get', '/admin/migrations/runs'],
  ['post', '/admin/migrations/up'],
  ['post', '/admin/migrations/down'],
  ['get', '/admin/schema/verify'],
  ['post', '/admin/seed'],
  ['post', '/admin/cache/purge'],
  ['get', '/admin/audit'],
] as const;

describe('the OpenAPI document and Swagger UI at /docs', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi('docs');
  });
  afterAll(async () => {
    await api.close();
  });

  it('describes every admin operation from its schemas, with the admin token as its security', async () => {
    const reply = await api.app.inject({ url: '/docs/json' });
    expect(reply.statusCode).toBe(200);
    const document = reply.json();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: 'enerlink', version: expect.any(String) });
    expect(document.components.securitySchemes.adminToken).toEqual({ type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the service' });
    for (const [method, path] of ADMIN_OPERATIONS) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.security).toEqual([{ adminToken: [] }]);
      expect(operation.tags).toEqual(['admin']);
      expect(operation.summary.length).toBeGreaterThan(10);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '4XX', '5XX']));
      if (method === 'post') {
        const body = operation.requestBody.content['application/json'].schema;
        expect(body.additionalProperties, `${path} refuses unknown properties`).toBe(false);
      }
    }
    expect(document.paths['/admin/migrations/up'].post.requestBody.content['application/json'].schema.properties).toMatchObject({
      to: { type: 'string' },
      dryRun: { type: 'boolean', default: false },
    });
    expect(Object.keys(document.paths['/admin/migrations/up'].post.responses)).toContain('409');
    // the rest of the API is in the same document
    expect(document.paths['/trades']).toBeDefined();
    expect(document.paths['/health/ready']).toBeDefined();
  });

  it('describes the domain routes from their TypeBox schemas: every request body refuses unknown properties', async () => {
    const document = (await api.app.inject({ url: '/docs/json' })).json();
    for (const path of ['/auth/register', '/auth/login', '/meters', '/meters/{meterId}/settlements', '/trades', '/idrs/conversions']) {
      const body = document.paths[path]?.post?.requestBody?.content['application/json'].schema;
      expect(body, path).toBeDefined();
      expect(body.additionalProperties, `${path} refuses unknown properties`).toBe(false);
    }
    // an amount is a decimal string or a JSON number read as its text
    expect(document.paths['/trades'].post.requestBody.content['application/json'].schema.properties.energyKwh).toMatchObject({
      type: ['string', 'number'],
      pattern: expect.any(String),
    });
    expect(document.paths['/trades'].get.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(['limit', 'offset']);
    expect(Object.keys(document.paths['/meters/{meterId}/settlements'].post.responses)).toEqual(expect.arrayContaining(['201', '4XX', '5XX']));
  });

  it("documents every route of the market (issue 14), the signed ones with their scheme", async () => {
    const document = (await api.app.inject({ url: '/docs/json' })).json();
    const routes = [
      ['post', '/meters'],
      ['post', '/meters/{meterId}/settlements'],
      ['post', '/offers'],
      ['get', '/offers'],
      ['get', '/offers/mine'],
      ['get', '/offers/{offerId}'],
      ['post', '/offers/{offerId}/cancel'],
      ['post', '/trades'],
      ['post', '/idrs/conversions'],
      ['get', '/idrs/conversions'],
      ['get', '/idrs/conversions/{conversionId}'],
      ['post', '/idrs/payments'],
      ['post', '/admin/meters'],
      ['get', '/admin/meters/{meterId}'],
      ['post', '/admin/meters/{meterId}/device-key'],
      ['post', '/admin/meters/{meterId}/pairing-code'],
      ['post', '/admin/meters/{meterId}/capacity'],
      ['get', '/admin/users/{userId}/limits'],
      ['post', '/admin/users/{userId}/limits'],
      ['post', '/admin/idrs/conversions/{conversionId}/settle'],
    ] as const;
    for (const [method, path] of routes) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['4XX', '5XX']));
      const body = operation.requestBody?.content['application/json'].schema;
      if (body) expect(body.additionalProperties, `${method} ${path} refuses unknown properties`).toBe(false);
      if (path.startsWith('/admin')) expect(operation.security, path).toEqual([{ adminToken: [] }]);
    }
    expect(document.paths['/meters/{meterId}/settlements'].post.security).toEqual([{ meterSignature: [] }]);
    expect(document.paths['/idrs/payments'].post.security).toEqual([{ gatewaySignature: [] }]);
    expect(Object.keys(document.components.securitySchemes)).toEqual(expect.arrayContaining(['meterSignature', 'gatewaySignature']));
  });

  it('serves Swagger UI without a token, with the security headers', async () => {
    const page = await api.app.inject({ url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('swagger-ui');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    // over plain http it would send the browser to https for the UI's own scripts
    expect(page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    const initializer = await api.app.inject({ url: '/docs/static/swagger-initializer.js' });
    expect(initializer.statusCode).toBe(200);
    expect(initializer.body).toContain('./json');
  });
});
