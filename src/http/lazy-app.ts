import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { LoadFailedError, withProblemDetails } from '../errors.ts';

// What the inner reply says of its own connection; the outer reply has its own.
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

/**
 * A route handler that serves requests from a Fastify app of their own, built by `build` on the
 * first request: what only a few requests need (Swagger UI, the operator page's files) and
 * whose libraries take tens of ms to load is not loaded at start (bench:startup). GET requests
 * (and HEAD, as GET) are passed on with `inject`, URL and headers as they came; the reply goes out through
 * the outer app (its hooks, security headers and request log line). A build that fails is
 * answered 503 LOAD_FAILED and tried again on the next request. The inner app closes with `app`.
 */
export function lazyApp(app: FastifyInstance, name: string, build: (inner: FastifyInstance) => Promise<void>) {
  let loading: Promise<FastifyInstance> | undefined;
  app.addHook('onClose', async () => {
    await (await loading?.catch(() => undefined))?.close();
  });
  const load = async () => {
    const inner = Fastify();
    await build(inner);
    await inner.ready();
    return inner;
  };
  return async (request: FastifyRequest, reply: FastifyReply) => {
    let inner: FastifyInstance;
    try {
      inner = await (loading ??= load());
    } catch (error) {
      loading = undefined;
      request.log.error({ err: error }, `${name} could not be loaded`);
      throw withProblemDetails(new LoadFailedError(`${name} could not be loaded; try again, or see the service's log`), {}, { expose: true });
    }
    // GET for HEAD too: Fastify's HEAD route (the GET handler's, this one) drops the body itself
    const response = await inner.inject({ method: 'GET', url: request.url, headers: request.headers });
    // the app's own 404, problem+json as for any unknown URL
    if (response.statusCode === 404) return reply.callNotFound();
    reply.code(response.statusCode);
    for (const [header, value] of Object.entries(response.headers)) {
      if (value !== undefined && !CONNECTION_HEADERS.has(header)) reply.header(header, value);
    }
    // an empty reply (a redirect, a 304) is sent empty, not as an empty octet stream
    return response.rawPayload.length > 0 ? reply.send(response.rawPayload) : reply.send();
  };
}
