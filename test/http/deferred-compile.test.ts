import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import inputPolicy from '../../src/http/input-policy.ts';
import problemDetails from '../../src/http/problem-details.ts';
import { buildSharedSerializer } from '../../src/http/response-serializers.ts';

// Route schemas compile on first use, the rest once the server listens (src/http/deferred-compile.ts).
describe('route schemas compiled on first use', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build(lines: string[] = []) {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).trim().split('\n'));
        done();
      },
    });
    app = Fastify({ logger: { level: 'error', stream }, schemaController: { compilersFactory: { buildSerializer: buildSharedSerializer } } });
    await app.register(problemDetails);
    await app.register(inputPolicy);
    return app;
  }

  it('still validate each part and serialize each reply by its schema, routes sharing a schema alike', async () => {
    const app = await build();
    const schema = {
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, default: 10 } } },
      response: { 200: { type: 'object', properties: { limit: { type: 'integer' } } } },
    };
    app.get('/a', { schema }, async request => ({ ...(request.query as object), secret: 'not in the schema' }));
    app.get('/b', { schema }, async request => request.query);
    await app.ready();
    expect((await app.inject('/a?limit=3')).body).toBe('{"limit":3}');
    expect((await app.inject('/a')).json()).toEqual({ limit: 10 });
    expect((await app.inject('/b?limit=4')).json()).toEqual({ limit: 4 });
    const refused = await app.inject('/b?limit=zero');
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toBe('querystring.limit must be integer');
    expect((await app.inject('/b?limit=1&other=1')).json().detail).toBe('querystring has no property "other" (it takes limit)');
  });

  it('a schema that does not compile makes its route answer 500 (not the start fail), and is logged once the server listens', async () => {
    const lines: string[] = [];
    const app = await build(lines);
    app.get('/broken', { schema: { querystring: { type: 'object', properties: { q: { type: 'string', pattern: '(' } } } } }, async () => ({}));
    app.get('/never-called', { schema: { querystring: { type: 'object', properties: { q: { type: 'string', pattern: '[' } } } } }, async () => ({}));
    app.get('/fine', async () => ({ ok: true }));
    await app.ready();
    const broken = await app.inject('/broken');
    expect(broken.statusCode).toBe(500);
    expect(broken.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await app.inject('/fine')).json()).toEqual({ ok: true });

    await app.listen({ port: 0, host: '127.0.0.1' });
    while (!lines.some(line => line.includes('a route schema does not compile'))) await new Promise(resolve => setTimeout(resolve, 10));
    const logged = lines.map(line => JSON.parse(line)).find(line => line.msg.includes('a route schema does not compile'));
    expect(logged.err.message).toMatch(/Invalid regular expression|pattern/);
  });
});
