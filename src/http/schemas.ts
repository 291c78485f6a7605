// JSON schema pieces shared by the routes (TypeBox: each is a JSON schema and the TypeScript
// type of what it validates, so a route's types come from its schemas).
import type { Static, TProperties } from 'typebox';
import { Type } from './schema-builder.ts';

/**
 * An object that takes only `properties`: what every request object schema is built with, so
 * the OpenAPI document says `additionalProperties: false`. (The validator refuses unknown
 * properties of any object schema that does not say otherwise, see strictSchema.)
 */
export function strictObject<Properties extends TProperties>(properties: Properties, options: { description?: string } = {}) {
  return Type.Object(properties, { ...options, additionalProperties: false });
}

/** A user or meter id: varchar(64) of letters, digits and `_ . : -` (e.g. `user_3f9c...`, `MTR-0000000001`). */
export const idSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' });

/** A wallet address: `0x` and 40 hex digits, in either case (matched case-insensitively). */
export const walletAddressSchema = Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' });

/** A bigserial id in a path, as a decimal string (at most 18 digits, so it always fits a bigint). */
export const serialIdSchema = Type.String({ pattern: '^[1-9][0-9]{0,17}$' });

/** `?limit=&offset=` of the paginated lists. */
export const pageQuerySchema = strictObject({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
});

/** A page request after validation. */
export type PageQuery = Static<typeof pageQuerySchema>;

/** The query of a route that takes none. */
export const noQuerySchema = strictObject({});

/** An ISO 8601 timestamp (RFC 3339 date-time). */
export const timestampSchema = Type.String({ format: 'date-time' });

/** A text column value that may be absent. */
export const nullableString = (options: { description?: string } = {}) => Type.Union([Type.String(), Type.Null()], options);
