import TypeBox from 'typebox';
import { describe, expect, it } from 'vitest';
import { Type } from '../../src/http/schema-builder.ts';

// Every property, enumerable or not (TypeBox's `~kind`, `~optional`), recursively.
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.getOwnPropertyNames(value).map(key => [key, shape((value as Record<string, unknown>)[key])]));
}

// each case is built by both: the builder's schema must be TypeBox's, key for key and in order
const cases: Array<[string, (type: typeof Type) => unknown]> = [
  ['String', type => type.String()],
  ['String with options', type => type.String({ pattern: '^[a-z]+$', maxLength: 64, description: 'a name' })],
  ['String with a format', type => type.String({ format: 'date-time' })],
  ['Integer', type => type.Integer({ minimum: 1, maximum: 100, default: 20 })],
  ['Number', type => type.Number()],
  ['Boolean', type => type.Boolean({ default: false, description: 'dry run' })],
  ['Null', type => type.Null()],
  ['Literal string', type => type.Literal('Bearer')],
  ['Literal boolean', type => type.Literal(true)],
  ['Literal number', type => type.Literal(3)],
  ['Enum', type => type.Enum(['ON_RAMP', 'OFF_RAMP'] as const)],
  ['Enum with options', type => type.Enum(['PAID', 'FAILED'], { description: 'outcome' })],
  ['Array', type => type.Array(type.String(), { maxItems: 10, description: 'names' })],
  ['Union', type => type.Union([type.String(), type.Null()], { description: 'nullable' })],
  ['Object', type => type.Object({ id: type.String(), count: type.Integer() })],
  ['Object without properties', type => type.Object({}, { additionalProperties: false })],
  ['Object with optional properties', type => type.Object({ a: type.Optional(type.String()), b: type.Integer(), c: type.Optional(type.Union([type.Integer(), type.Null()])) }, { additionalProperties: false, description: 'd' })],
  ['Object with only optional properties', type => type.Object({ reason: type.Optional(type.String()) })],
  ['Unsafe', type => type.Unsafe<string>({ type: ['string', 'number'], pattern: '^[0-9]+$', exactDecimal: true })],
  ['Optional of Unsafe', type => type.Optional(type.Unsafe<string>({ type: 'string' }))],
  [
    'nested',
    type =>
      type.Object({
        status: type.Enum(['ready', 'not_ready']),
        items: type.Array(type.Object({ query: type.String(), calls: type.Integer(), meanMs: type.Number() })),
        either: type.Union([type.Object({ available: type.Literal(true) }), type.Object({ available: type.Literal(false), reason: type.String() })]),
      }),
  ],
];

describe('the schema builder the routes use instead of loading TypeBox', () => {
  it.each(cases)('%s is the schema TypeBox builds', (_name, build) => {
    const ours = build(Type);
    const typebox = build(TypeBox as unknown as typeof Type);
    expect(JSON.stringify(ours)).toBe(JSON.stringify(typebox));
    expect(shape(ours)).toEqual(shape(typebox));
  });
});
