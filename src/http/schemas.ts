// JSON schema pieces shared by the routes: identifiers as the schema stores them.

/** A user or meter id: varchar(64) of letters, digits and `_ . : -` (e.g. `user_3f9c...`, `MTR-0000000001`). */
export const idSchema = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' } as const;

/** A wallet address: `0x` and 40 hex digits. */
export const walletAddressSchema = { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' } as const;

/** A bigserial id in a path, as a decimal string (at most 18 digits, so it always fits a bigint). */
export const serialIdSchema = { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } as const;

/** `?limit=&offset=` of the paginated lists. */
export const pageQuerySchema = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
  },
  additionalProperties: false,
} as const;

/** A page request after validation. */
export interface PageQuery {
  limit: number;
  offset: number;
}

/** An ISO 8601 timestamp in a reply. */
export const timestampSchema = { type: 'string', format: 'date-time' } as const;
