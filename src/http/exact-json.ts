import type { FuncKeywordDefinition } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { InvalidJsonError } from '../errors.ts';

// The source text of every JSON number of a parsed body, by the object (or array) holding it
// and its key. Weak, so a body's texts go with the body.
const numberSources = new WeakMap<object, Map<string, string>>();

// The body text of every request the JSON parser read, for the routes whose callers sign it.
const rawBodies = new WeakMap<object, string>();

/** The JSON body of `request` exactly as it arrived (what a signature covers); undefined without one. */
export function rawBodyOf(request: object): string | undefined {
  return rawBodies.get(request);
}

/**
 * Makes every JSON body of the app keep the exact text of each number the client sent, next
 * to the number itself: a schema typed `number`/`integer` sees a number, a `string` field is
 * still refused a number, and an amount (see `exactDecimalKeyword`) reads `1.10` as "1.10",
 * never through a binary float. Set once on the root instance by buildApp: content type
 * parsers are encapsulated, so a plugin setting its own would change only its routes.
 */
export function parseJsonExactly(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    rawBodies.set(request, body as string);
    try {
      done(null, JSON.parse(body as string, recordNumberSource as (key: string, value: unknown) => unknown));
    } catch (error) {
      done(error instanceof InvalidJsonError ? error : new InvalidJsonError((error as Error).message), undefined);
    }
  });
}

// JSON.parse's reviver gets the holder as `this` and the source text of each primitive (Node 21+).
function recordNumberSource(this: object, key: string, value: unknown, context: { source?: string }): unknown {
  // Same refusal as Fastify's own parser (secure-json-parse): no prototype keys reach a handler.
  if (key === '__proto__' || key === 'constructor') throw new InvalidJsonError(`the key "${key}" is refused`);
  if (typeof value === 'number' && context.source !== undefined) {
    let sources = numberSources.get(this);
    if (!sources) numberSources.set(this, (sources = new Map()));
    sources.set(key, context.source);
  }
  return value;
}

/** The text a JSON body number was written as, if `holder[key]` is one. */
export function numberSourceText(holder: unknown, key: string | number): string | undefined {
  return typeof holder === 'object' && holder !== null ? numberSources.get(holder)?.get(String(key)) : undefined;
}

/**
 * Ajv keyword `exactDecimal` of an amount schema (`type: ['string', 'number']` with a
 * `pattern`): a JSON number is checked against the pattern by the text it was sent as, and
 * replaced by that text, so the route gets "1.10" for `1.10` and `0.10000000000000001` is
 * refused rather than rounded. Strings are left to `pattern`.
 */
export const exactDecimalKeyword: FuncKeywordDefinition = {
  keyword: 'exactDecimal',
  type: 'number',
  schemaType: 'boolean',
  modifying: true,
  errors: true,
  validate: function exactDecimal(this: unknown, enabled: boolean, data: number, parentSchema, dataContext) {
    if (!enabled || !dataContext) return true;
    const { parentData, parentDataProperty } = dataContext;
    const text = numberSourceText(parentData, parentDataProperty) ?? String(data);
    const pattern = (parentSchema as { pattern?: string }).pattern;
    if (pattern !== undefined && !new RegExp(pattern, 'u').test(text)) {
      (exactDecimal as { errors?: unknown }).errors = [{ keyword: 'pattern', message: `must match pattern "${pattern}"`, params: { pattern }, parentSchema }];
      return false;
    }
    (parentData as Record<string | number, unknown>)[parentDataProperty] = text;
    return true;
  },
};
