import { readFileSync } from 'node:fs';
import type { SwaggerOptions } from '@fastify/swagger';
import type { RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { lazyApp } from './lazy-app.ts';
import securityHeaders from './security-headers.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * Security headers on every reply (helmet's, see security-headers.ts), and the OpenAPI document of every route
 * registered after this plugin, built from their JSON schemas: `/docs/json`, with Swagger UI
 * at `/docs`. @fastify/swagger and Swagger UI (and `yaml`, which @fastify/swagger loads) are
 * loaded by the first request to /docs, not at start (see lazyApp): the routes are recorded
 * here as they are registered, and the document is built from them then.
 */
export default fp(
  async app => {
    // upgrade-insecure-requests only acts on a page served over plain http, and there it makes
    // the browser fetch Swagger UI's scripts over https from a server that speaks http: a blank
    // /docs for anyone opening it by host name (checked in Chromium). Over https it does nothing.
    await app.register(securityHeaders, { helmet: { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } } });
    const routes: RouteOptions[] = [];
    // Swagger UI groups operations by tag: routes without one are grouped by their first segment
    app.addHook('onRoute', route => {
      if (route.url.startsWith('/docs')) return;
      // @fastify/swagger leaves out the HEAD routes Fastify adds for every GET
      if (route.method !== 'HEAD') routes.push(route);
      if (!route.schema || route.schema.tags) return;
      const [segment] = route.url.split('/').filter(Boolean);
      if (segment) route.schema = { ...route.schema, tags: [segment] };
    });
    const serveDocs = lazyApp(app, 'the API documentation', async inner => {
      const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
      for (const schema of Object.values(app.getSchemas())) inner.addSchema(schema as { $id: string });
      // the routes are here to be described, never called: nothing to compile
      inner.setValidatorCompiler(() => () => true);
      inner.setSerializerCompiler(() => data => JSON.stringify(data));
      await inner.register(swagger, swaggerOptions);
      await inner.register(swaggerUi, { routePrefix: '/docs' });
      await inner.register(async described => {
        for (const { method, url, schema, config } of routes) described.route({ method, url, schema, config, handler: async () => undefined });
      });
    });
    app.get('/docs', { schema: { hide: true } }, serveDocs);
    app.get('/docs/*', { schema: { hide: true } }, serveDocs);
  },
  { name: 'docs' },
);

const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'enerlink',
      version,
      description:
        'Peer-to-peer energy market: users trade solar energy for IDRS. The admin API (`/admin`) drives the schema lifecycle: ' +
        'migrations, integrity checks, fixtures, cache purges and their audit log.',
    },
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the service' },
        userToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token POST /auth/login returns' },
        // OpenAPI has no HMAC scheme: the header is named, the signature is described on the route
        meterSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'x-enerlink-signature',
          description: 'sha256=<hex HMAC-SHA256 of "<x-enerlink-timestamp>.<body>"> with the meter\'s device key',
        },
        gatewaySignature: {
          type: 'apiKey',
          in: 'header',
          name: 'x-enerlink-signature',
          description: 'sha256=<hex HMAC-SHA256 of "<x-enerlink-timestamp>.<body>"> with PAYMENT_WEBHOOK_SECRET',
        },
      },
    },
  },
};
