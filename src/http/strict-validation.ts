import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { compileOnFirstUse } from './deferred-compile.ts';
import { exactDecimalKeyword } from './exact-json.ts';

// Fastify's default Ajv silently drops properties a schema does not allow and coerces body
// types: `{ "to_": "..." }` would become `{}`, and an admin `up` with it would apply every
// pending migration; `{ "capacityKW": "5" }` would register a meter of capacity 0. These
// validators refuse what they do not know instead.
// validateSchema off: checking each schema against the JSON Schema meta-schema first compiles
// the meta-schema, about 45 ms per instance on the first request of a fresh process (the first
// readiness probe, bench:startup). The routes' schemas are checked by a test instead
// (describeInvalidRouteSchemas).
const common = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false, verbose: true, validateSchema: false } as const;

function validatorFor(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({ ...common, coerceTypes });
  // the formats Fastify's own validator knows (email, date-time, ...)
  addFormats.default(ajv);
  ajv.addKeyword(exactDecimalKeyword);
  ajv.addKeyword({
    keyword: 'postgresText',
    type: 'string',
    schemaType: 'boolean',
    // PostgreSQL text cannot hold U+0000: refused here rather than failing the query (a 500)
    validate: (enabled: boolean, data: string) => !enabled || !data.includes('\u0000'),
  });
  return ajv;
}

// query strings and path parameters arrive as text: "10" must still be the integer 10
const textParts = validatorFor('array');
// a JSON body has types of its own: "2" is not a number of steps
const jsonParts = validatorFor(false);

// Routes share schemas (every route without a query string takes the same empty one; ids and
// pages recur): each distinct schema is compiled once per validator, not once per route and
// part, which was most of the compilation at startup (108 compiles of 30 schemas). Ajv's own
// cache goes by the schema object, and strictSchema makes a new one for each route.
const compiled = new Map<Ajv, Map<string, ValidateFunction>>([
  [textParts, new Map()],
  [jsonParts, new Map()],
]);

function compile(ajv: Ajv, schema: unknown): ValidateFunction {
  const strict = strictSchema(schema);
  const key = JSON.stringify(strict);
  const byKey = compiled.get(ajv)!;
  let validate = byKey.get(key);
  if (!validate) byKey.set(key, (validate = ajv.compile(strict as AnySchema)));
  return validate;
}

// every distinct schema a route validates with, as validated, for describeInvalidRouteSchemas
const routeSchemas = new Map<string, unknown>();

/**
 * The route schemas (as validated) that the JSON Schema meta-schema refuses, with Ajv's reasons:
 * the check the validators skip at run time, for a test to make over the whole app.
 */
export function describeInvalidRouteSchemas(): Array<{ schema: unknown; errors: string }> {
  const checker = new Ajv({ strict: false });
  return [...routeSchemas.values()].filter(schema => !checker.validateSchema(schema as AnySchema)).map(schema => ({ schema, errors: checker.errorsText() }));
}

/** A validator Fastify can call at once, compiled on first use (see compileOnFirstUse). */
function validatorOnFirstUse(ajv: Ajv, schema: unknown) {
  const strict = strictSchema(schema);
  routeSchemas.set(JSON.stringify(strict), strict);
  const compiledValidator = compileOnFirstUse(() => compile(ajv, schema));
  const validate = (data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    const compiledValidate = compiledValidator();
    const valid = compiledValidate(data, context);
    validate.errors = compiledValidate.errors;
    return valid;
  };
  validate.errors = undefined as ValidateFunction['errors'];
  // Fastify passes Ajv validators the request as the parent of the part, so that defaults and
  // coercion can replace the part itself; it tells an Ajv validator by its schemaEnv
  validate.schemaEnv = true;
  return validate;
}

/**
 * Every route of the app refuses unknown properties and wrongly typed JSON values, with a
 * message naming what is wrong: `body has no property "to_" (it takes to, dryRun)`. Set once
 * on the root instance by buildApp, before any route: the validator compiler and the error
 * formatter are encapsulated, so a plugin setting its own would change only its routes.
 */
export function validateStrictly(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => validatorOnFirstUse(httpPart === 'body' ? jsonParts : textParts, schema));
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(describeValidationError(errors[0], dataVar)));
}

/**
 * `schema` as it is validated: an object schema that does not say whether it takes other
 * properties takes none (a new route cannot forget `additionalProperties: false`), and no
 * string may hold U+0000. The route's own schema (and so the OpenAPI document) is unchanged.
 */
export function strictSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const source = schema as Record<string, unknown>;
  const strict: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(source)) {
    strict[keyword] = SUBSCHEMA_KEYWORDS.has(keyword) ? strictSchema(value) : SUBSCHEMA_MAPS.has(keyword) ? mapValues(value, strictSchema) : value;
  }
  const types = [source.type].flat();
  if ((types.includes('object') || source.properties !== undefined) && source.additionalProperties === undefined && source.patternProperties === undefined) {
    strict.additionalProperties = false;
  }
  if (types.includes('string')) strict.postgresText = true;
  return strict;
}

// keywords whose value is a schema or a list of schemas, and those whose value maps names to schemas
const SUBSCHEMA_KEYWORDS = new Set(['items', 'prefixItems', 'additionalItems', 'additionalProperties', 'anyOf', 'oneOf', 'allOf', 'not', 'if', 'then', 'else', 'contains']);
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

function mapValues(value: unknown, map: (entry: unknown) => unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, map(entry)]));
}

/** One readable line for the first thing wrong: where, and what. */
export function describeValidationError(error: FastifySchemaValidationError | ErrorObject, dataVar: string): string {
  const where = `${dataVar}${error.instancePath.replace(/\//g, '.')}`;
  const params = error.params as Record<string, unknown>;
  const parentSchema = (error as ErrorObject).parentSchema as { properties?: Record<string, unknown>; description?: string } | undefined;
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(parentSchema?.properties ?? {});
      const takes = allowed.length > 0 ? `it takes ${allowed.join(', ')}` : 'it takes none';
      return `${where} has no property ${JSON.stringify(params.additionalProperty)} (${takes})`;
    }
    case 'enum':
      return `${where} must be one of ${(params.allowedValues as unknown[]).map(value => JSON.stringify(value)).join(', ')}`;
    case 'required':
      return `${where} must have property ${JSON.stringify(params.missingProperty)}`;
    case 'type':
      return `${where} must be ${[params.type].flat().join(' or ')}`;
    case 'pattern':
      // a described value (an amount) is explained in words rather than by its regular expression
      return parentSchema?.description ? `${where} must be ${parentSchema.description}` : `${where} ${error.message}`;
    case 'postgresText':
      return `${where} must not contain the NUL character (\\u0000)`;
    default:
      return `${where} ${error.message}`;
  }
}
