// TypeBox's `Type` builders that the routes use, without loading TypeBox. Its every entry point
// (even `typebox/type`) loads all of it, 373 modules, about 100 ms of a 700 ms start
// (bench:startup), for calls that each return a small JSON schema. These return the same
// schemas, key for key, with TypeBox's own signatures, so the types a route infers from its
// schemas (through `@fastify/type-provider-typebox`) are TypeBox's as before; TypeBox itself is
// only read by the compiler. test/http/schema-builder.test.ts compares the two.
import type TypeBox from 'typebox';

type Builders = Pick<
  typeof TypeBox,
  'Array' | 'Boolean' | 'Enum' | 'Integer' | 'Literal' | 'Null' | 'Number' | 'Object' | 'Optional' | 'String' | 'Union' | 'Unsafe'
>;
type Schema = Record<string, unknown>;

// TypeBox marks its schemas with non-enumerable `~kind` (and `~optional`): invisible to JSON,
// Ajv and fast-json-stringify, kept so that a schema is the same object TypeBox would make.
function marked(kind: string, schema: Schema): any {
  return Object.defineProperty(schema, '~kind', { value: kind, writable: true, configurable: true, enumerable: false });
}

const isOptional = (schema: unknown) => (schema as { '~optional'?: boolean })['~optional'] === true;

/** The subset of TypeBox's `Type` the service uses (see the top of this file). */
export const Type: Builders = {
  String: (options?: object) => marked('String', { type: 'string', ...options }),
  Integer: (options?: object) => marked('Integer', { type: 'integer', ...options }),
  Number: (options?: object) => marked('Number', { type: 'number', ...options }),
  Boolean: (options?: object) => marked('Boolean', { type: 'boolean', ...options }),
  Null: (options?: object) => marked('Null', { type: 'null', ...options }),
  Literal: (value: string | number | boolean, options?: object) => marked('Literal', { type: typeof value, const: value, ...options }),
  Enum: (values: readonly unknown[], options?: object) => marked('Enum', { enum: values, ...options }),
  Array: (items: unknown, options?: object) => marked('Array', { type: 'array', items, ...options }),
  Union: (anyOf: readonly unknown[], options?: object) => marked('Union', { anyOf, ...options }),
  Object: (properties: Record<string, unknown>, options?: object) => {
    const required = Object.keys(properties).filter(name => !isOptional(properties[name]));
    return marked('Object', { type: 'object', ...(required.length > 0 && { required }), properties, ...options });
  },
  Optional: (schema: object) => {
    const optional = { ...schema };
    for (const key of ['~kind', '~unsafe'] as const) {
      if (key in schema) Object.defineProperty(optional, key, { value: (schema as Schema)[key], writable: true, configurable: true, enumerable: false });
    }
    return Object.defineProperty(optional, '~optional', { value: true, writable: true, configurable: true, enumerable: false });
  },
  Unsafe: (schema: object) => Object.defineProperty({ ...schema }, '~unsafe', { value: null, writable: true, configurable: true, enumerable: false }),
} as unknown as Builders;
