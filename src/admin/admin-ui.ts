import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { lazyApp } from '../http/lazy-app.ts';

/** Where the operator page lives. */
export const ADMIN_UI_PREFIX = '/admin/ui/';

// uPlot's own build, served from node_modules: the service has no CDN to count on.
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
const UPLOT_FILES = new Set(['/uPlot.iife.min.js', '/uPlot.min.css']);

/**
 * The operator page at /admin/ui: static HTML, CSS and ES modules (no inline script, so it runs
 * under the service's CSP). The files themselves are public and hold nothing secret; every
 * piece of data the page shows comes from the admin API with the token the operator types,
 * kept in sessionStorage and sent as a bearer header only.
 */
export default async function adminUi(app: FastifyInstance): Promise<void> {
  // @fastify/static (and @fastify/send, mime) loads with the first request for the page, not at start
  const serveFiles = lazyApp(app, 'the operator page', async inner => {
    const { default: fastifyStatic } = await import('@fastify/static');
    await inner.register(fastifyStatic, {
      root: join(dirname(fileURLToPath(import.meta.url)), 'ui'),
      prefix: ADMIN_UI_PREFIX,
      // the page changes with every release; a stale one would call routes that moved
      cacheControl: true,
      maxAge: 0,
    });
    await inner.register(fastifyStatic, {
      root: UPLOT_DIST,
      prefix: `${ADMIN_UI_PREFIX}vendor/uplot/`,
      decorateReply: false,
      allowedPath: pathName => UPLOT_FILES.has(pathName),
    });
  });
  app.get(`${ADMIN_UI_PREFIX}*`, { schema: { hide: true } }, serveFiles);
  // the page's relative links need the trailing slash
  app.get(ADMIN_UI_PREFIX.slice(0, -1), { schema: { hide: true } }, (_request, reply) => reply.redirect(ADMIN_UI_PREFIX));
}
