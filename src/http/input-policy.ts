import fp from 'fastify-plugin';
import { parseJsonExactly } from './exact-json.ts';
import { noQuerySchema } from './schemas.ts';
import { validateStrictly } from './strict-validation.ts';

/**
 * The app's one input policy, for every route registered after it (buildApp registers it
 * before any): unknown properties and wrongly typed values are refused with a 400 naming
 * them, JSON numbers are read exactly, and a route that declares no query string takes none.
 */
export default fp(
  async app => {
    validateStrictly(app);
    parseJsonExactly(app);
    app.addHook('onRoute', route => {
      if (route.url.startsWith('/docs') || route.schema?.hide) return;
      if (!route.schema?.querystring) route.schema = { ...route.schema, querystring: noQuerySchema };
    });
  },
  { name: 'input-policy', dependencies: ['problem-details'] },
);
