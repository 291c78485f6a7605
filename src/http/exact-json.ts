import type { FastifyInstance } from 'fastify';
import { InvalidJsonError } from '../errors.ts';

/**
 * Makes the JSON bodies of the calling plugin's routes keep every number as the exact text
 * the client sent (`1.10` stays "1.10"), so that amounts never pass through a binary float:
 * the route schemas then validate amounts as decimal strings. Scoped to the plugin that calls
 * it (content type parsers are encapsulated), so other routes keep Fastify's parser.
 */
export function keepJsonNumbersExact(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string, numbersAsSourceText as (key: string, value: unknown) => unknown));
    } catch (error) {
      done(new InvalidJsonError((error as Error).message), undefined);
    }
  });
}

// JSON.parse's reviver gets the source text of each primitive (Node 21+).
function numbersAsSourceText(key: string, value: unknown, context: { source?: string }): unknown {
  // Same protection as Fastify's own parser: no prototype keys reach a handler.
  if (key === '__proto__' || key === 'constructor') return undefined;
  return typeof value === 'number' ? context.source : value;
}
