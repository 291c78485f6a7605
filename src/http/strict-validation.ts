import { Ajv, type ErrorObject } from 'ajv';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';

// Fastify's default Ajv silently drops properties a schema does not allow and coerces body
// types: `{ "to_": "..." }` would become `{}`, and an admin `up` with it would apply every
// pending migration. These validators refuse what they do not know instead.
const common = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false, verbose: true } as const;
// query strings and path parameters arrive as text: "10" must still be the integer 10
const textParts = new Ajv({ ...common, coerceTypes: 'array' });
// a JSON body has types of its own: "2" is not a number of steps
const jsonParts = new Ajv({ ...common, coerceTypes: false });

/**
 * Makes the calling plugin's routes (validators and error messages are encapsulated) reject
 * unknown properties and wrongly typed JSON values, with a message naming what is wrong:
 * `body has no property "to_" (it takes to, dryRun)`.
 */
export function validateStrictly(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? jsonParts : textParts).compile(schema));
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(describeValidationError(errors[0], dataVar)));
}

/** One readable line for the first thing wrong: where, and what. */
export function describeValidationError(error: FastifySchemaValidationError | ErrorObject, dataVar: string): string {
  const where = `${dataVar}${error.instancePath.replace(/\//g, '.')}`;
  const params = error.params as Record<string, unknown>;
  const parentSchema = (error as ErrorObject).parentSchema as { properties?: Record<string, unknown> } | undefined;
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
    default:
      return `${where} ${error.message}`;
  }
}
