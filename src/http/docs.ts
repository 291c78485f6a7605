import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import securityHeaders from './security-headers.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * Security headers on every reply (helmet's, see security-headers.ts), and the OpenAPI document of every route
 * registered after this plugin, built from their JSON schemas: `/docs/json`, with Swagger UI
 * at `/docs`.
 */
export default fp(
  async app => {
    // upgrade-insecure-requests only acts on a page served over plain http, and there it makes
    // the browser fetch Swagger UI's scripts over https from a server that speaks http: a blank
    // /docs for anyone opening it by host name (checked in Chromium). Over https it does nothing.
    await app.register(securityHeaders, { helmet: { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } } });
    await app.register(swagger, {
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
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    // Swagger UI groups operations by tag: routes without one are grouped by their first segment
    app.addHook('onRoute', route => {
      if (route.url.startsWith('/docs') || !route.schema || route.schema.tags) return;
      const [segment] = route.url.split('/').filter(Boolean);
      if (segment) route.schema = { ...route.schema, tags: [segment] };
    });
  },
  { name: 'docs' },
);
