import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { lazyApp } from '../../src/http/lazy-app.ts';
import problemDetails from '../../src/http/problem-details.ts';

// Parts of the app loaded by their first request (src/http/lazy-app.ts: /docs, /admin/ui).
describe('an app loaded on first request', () => {
  async function outerWith(build: Parameters<typeof lazyApp>[2]) {
    const app = Fastify();
    await app.register(problemDetails);
    const serve = lazyApp(app, 'the test page', build);
    app.get('/page/*', { schema: { hide: true } }, serve);
    await app.ready();
    return app;
  }

  it('is built once, by the first request, and answers as its own routes do (status, headers, body, HEAD)', async () => {
    let builds = 0;
    let closed = false;
    const app = await outerWith(async inner => {
      builds++;
      inner.addHook('onClose', async () => {
        closed = true;
      });
      inner.get('/page/text', async (_request, reply) => reply.header('cache-control', 'no-store').type('text/plain').send('hello'));
      inner.get('/page/old', async (_request, reply) => reply.redirect('/page/text'));
    });
    expect(builds).toBe(0);
    const text = await app.inject('/page/text?x=1');
    expect(text.statusCode).toBe(200);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.headers['cache-control']).toBe('no-store');
    expect(text.body).toBe('hello');
    const head = await app.inject({ method: 'HEAD', url: '/page/text' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.body).toBe('');
    const redirect = await app.inject('/page/old');
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('/page/text');
    expect(redirect.headers['content-type']).toBeUndefined();
    // what the inner app does not serve is the app's own 404, as problem+json
    const missing = await app.inject('/page/nothing-here');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(builds).toBe(1);
    await app.close();
    expect(closed).toBe(true);
  });

  it('answers 503 LOAD_FAILED while it cannot be loaded, and loads on a later request once it can', async () => {
    let failing = true;
    const app = await outerWith(async inner => {
      // as a dynamic import of a package that is missing or broken would
      if (failing) throw new Error("Cannot find package '@fastify/static'");
      inner.get('/page/text', async () => 'hello');
    });
    const refused = await app.inject('/page/text');
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ status: 503, code: 'LOAD_FAILED', detail: expect.stringContaining('the test page could not be loaded') });
    failing = false;
    const served = await app.inject('/page/text');
    expect(served.statusCode).toBe(200);
    expect(served.body).toBe('hello');
    await app.close();
  });
});
