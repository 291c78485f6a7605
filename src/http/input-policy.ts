import fp from 'fastify-plugin';
import type { preValidationAsyncHookHandler } from 'fastify';
import { ValidationFailedError } from '../errors.ts';
import { compilePending } from './deferred-compile.ts';
import { parseJsonExactly } from './exact-json.ts';
import { noQuerySchema } from './schemas.ts';
import { validateStrictly } from './strict-validation.ts';

/** How long after listening the route schemas no request has needed yet start compiling. */
export const BACKGROUND_COMPILE_DELAY_MS = 1000;

// Methods whose requests Fastify reads a body of.
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// A route without a body schema (POST /auth/logout) reads no body: one sent to it is refused
// rather than ignored, as an unknown property is anywhere else. Nothing, or {}, is fine.
const refuseBody: preValidationAsyncHookHandler = async request => {
  const body: unknown = request.body;
  if (body === undefined || body === null) return;
  if (typeof body !== 'object') throw new ValidationFailedError('body must be empty: this route takes none');
  const [property] = Object.keys(body);
  if (property !== undefined) throw new ValidationFailedError(`body has no property ${JSON.stringify(property)} (it takes none)`);
};

/**
 * The app's one input policy, for every route registered after it (buildApp registers it
 * before any): unknown properties and wrongly typed values are refused with a 400 naming
 * them, JSON numbers are read exactly, and a route that declares no query string or body
 * takes none.
 */
export default fp(
  async app => {
    validateStrictly(app);
    parseJsonExactly(app);
    // Route schemas compile on first use; the rest in the background, starting a while after
    // the server listens: begun at once, they ran between the awaits of the first readiness
    // probes (one cold compile, up to tens of ms, at every turn) and delayed the first 200.
    let backgroundCompile: NodeJS.Timeout | undefined;
    app.addHook('onListen', async () => {
      backgroundCompile = setTimeout(() => {
        void compilePending().then(errors => {
          for (const error of errors) app.log.error({ err: error }, 'a route schema does not compile: its route answers 500');
        });
      }, BACKGROUND_COMPILE_DELAY_MS).unref();
    });
    app.addHook('onClose', async () => clearTimeout(backgroundCompile));
    app.addHook('onRoute', route => {
      if (route.url.startsWith('/docs') || route.schema?.hide) return;
      if (!route.schema?.querystring) route.schema = { ...route.schema, querystring: noQuerySchema };
      const methods = [route.method].flat();
      if (!route.schema.body && methods.some(method => BODY_METHODS.has(method))) {
        route.preValidation = [route.preValidation ?? []].flat().concat(refuseBody);
      }
    });
  },
  { name: 'input-policy', dependencies: ['problem-details'] },
);
