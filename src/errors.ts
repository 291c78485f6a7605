import createError from '@fastify/error';

// The error codes enerlink answers with. Each becomes an application/problem+json reply
// (src/http/problem-details.ts) with its status, its code and its message as the detail.
// A 4xx message is shown to the caller as it is: never put a secret or another user's data in one.

/** A request that its route's schema refuses (see describeValidationError for the detail). */
export const ValidationFailedError = createError<'VALIDATION_FAILED', 400, [string]>('VALIDATION_FAILED', '%s', 400);
/** A JSON body that does not parse. */
export const InvalidJsonError = createError<'INVALID_JSON', 400, [string]>('INVALID_JSON', 'The body is not valid JSON: %s', 400);
/** A body larger than the route takes. */
export const BodyTooLargeError = createError<'BODY_TOO_LARGE', 413, [string]>('BODY_TOO_LARGE', '%s', 413);
/** A body in a media type the API does not read (it reads application/json). */
export const UnsupportedMediaTypeError = createError<'UNSUPPORTED_MEDIA_TYPE', 415, [string]>('UNSUPPORTED_MEDIA_TYPE', '%s', 415);
/** A Content-Length header that does not match the body. */
export const InvalidContentLengthError = createError<'INVALID_CONTENT_LENGTH', 400, [string]>('INVALID_CONTENT_LENGTH', '%s', 400);
/** A URL that cannot be decoded. */
export const InvalidUrlError = createError<'INVALID_URL', 400, [string]>('INVALID_URL', '%s', 400);
/** An amount that passed the schema but is zero, or whose result does not fit its column. */
export const InvalidAmountError = createError<'INVALID_AMOUNT', 400, [string]>('INVALID_AMOUNT', '%s', 400);
/** A settlement period that is empty, reversed or in the future. */
export const InvalidPeriodError = createError<'INVALID_PERIOD', 400, [string]>('INVALID_PERIOD', '%s', 400);
/** A password bcrypt cannot hash whole. */
export const InvalidPasswordError = createError<'INVALID_PASSWORD', 400, [string]>('INVALID_PASSWORD', '%s', 400);
/** A trade whose seller is the buyer. */
export const SelfTradeError = createError<'SELF_TRADE', 400, []>('SELF_TRADE', 'A user cannot buy energy from themselves', 400);

/** A signed request (meter, payment gateway) without a valid signature, or with a timestamp too far from now. */
export const SignatureInvalidError = createError<'SIGNATURE_INVALID', 401, [string]>('SIGNATURE_INVALID', '%s', 401);

/** Login with an unknown email or a wrong password (the reply does not say which). */
export const InvalidCredentialsError = createError<'INVALID_CREDENTIALS', 401, []>('INVALID_CREDENTIALS', 'Wrong email or password', 401);
/** A request without a valid, unexpired access token. */
export const UnauthorizedError = createError<'UNAUTHORIZED', 401, [string]>('UNAUTHORIZED', '%s', 401);
/** A token that was valid but has been revoked by logging out. */
export const TokenRevokedError = createError<'TOKEN_REVOKED', 401, []>('TOKEN_REVOKED', 'This token was revoked by logging out', 401);

/** An admin action where the build or the environment forbids it (seeding a production database). */
export const AdminForbiddenError = createError<'ADMIN_FORBIDDEN', 403, [string]>('ADMIN_FORBIDDEN', '%s', 403);

/** A meter claim whose pairing code is wrong, expired or already used (the reply does not say which). */
export const PairingRefusedError = createError<'PAIRING_REFUSED', 403, [string]>(
  'PAIRING_REFUSED',
  'Meter %s cannot be claimed with this pairing code: it is wrong, expired or already used; ask the operator for a new one',
  403,
);

/** No such user. */
export const UserNotFoundError = createError<'USER_NOT_FOUND', 404, [string]>('USER_NOT_FOUND', 'User %s not found', 404);
/** No such wallet among the caller's (another user's wallet is "not found" too). */
export const WalletNotFoundError = createError<'WALLET_NOT_FOUND', 404, [string]>('WALLET_NOT_FOUND', 'Wallet %s not found', 404);
/** No such meter among the caller's. */
export const MeterNotFoundError = createError<'METER_NOT_FOUND', 404, [string]>('METER_NOT_FOUND', 'Meter %s not found', 404);
/** No such trade among the caller's. */
export const TradeNotFoundError = createError<'TRADE_NOT_FOUND', 404, [string]>('TRADE_NOT_FOUND', 'Trade %s not found', 404);
/** No such offer (another user's closed offer is "not found" too). */
export const OfferNotFoundError = createError<'OFFER_NOT_FOUND', 404, [string]>('OFFER_NOT_FOUND', 'Offer %s not found', 404);
/** No such conversion among the caller's (or, for the operator and the gateway, at all). */
export const ConversionNotFoundError = createError<'CONVERSION_NOT_FOUND', 404, [string]>('CONVERSION_NOT_FOUND', 'Conversion %s not found', 404);
/** A migration name (or 14-digit version) that no migration file has. */
export const MigrationNotFoundError = createError<'MIGRATION_NOT_FOUND', 404, [string]>('MIGRATION_NOT_FOUND', 'There is no migration %s', 404);
/** No route for the method and path. */
export const RouteNotFoundError = createError<'ROUTE_NOT_FOUND', 404, [string, string]>('ROUTE_NOT_FOUND', 'Route %s %s not found', 404);

/** A revert that would reach the initial migration (every table dropped) without being asked to. */
export const RevertNotConfirmedError = createError<'REVERT_NOT_CONFIRMED', 409, [string]>('REVERT_NOT_CONFIRMED', '%s', 409);
/** Registration with an email that already has an account. */
export const EmailTakenError = createError<'EMAIL_TAKEN', 409, []>('EMAIL_TAKEN', 'An account with this email already exists', 409);
/** Registration of a meter id that is already registered. */
export const MeterTakenError = createError<'METER_TAKEN', 409, [string]>('METER_TAKEN', 'Meter %s is already registered', 409);
/** A user without an active wallet cannot trade or be credited. */
export const NoActiveWalletError = createError<'NO_ACTIVE_WALLET', 409, [string]>('NO_ACTIVE_WALLET', '%s', 409);
/** Not enough energy or IDRS for the operation. */
export const InsufficientBalanceError = createError<'INSUFFICIENT_BALANCE', 409, [string]>('INSUFFICIENT_BALANCE', '%s', 409);
/** A balance would exceed what its column can hold. */
export const BalanceLimitError = createError<'BALANCE_LIMIT_EXCEEDED', 409, [string]>('BALANCE_LIMIT_EXCEEDED', '%s', 409);
/** A settlement period overlapping one already recorded for the meter. */
export const SettlementOverlapError = createError<'SETTLEMENT_OVERLAP', 409, [string]>('SETTLEMENT_OVERLAP', '%s', 409);
/** A settlement claiming more energy than the meter's capacity could export in the period. */
export const CapacityExceededError = createError<'CAPACITY_EXCEEDED', 409, [string]>('CAPACITY_EXCEEDED', '%s', 409);
/** A meter nobody has claimed yet: its energy would credit no one. */
export const MeterUnclaimedError = createError<'METER_UNCLAIMED', 409, [string]>('METER_UNCLAIMED', '%s', 409);
/** A signed request whose timestamp is not after the last one accepted from the same signer. */
export const SignatureReplayedError = createError<'SIGNATURE_REPLAYED', 409, [string]>('SIGNATURE_REPLAYED', '%s', 409);
/** An offer that is filled, cancelled or expired, or holds less energy than asked. */
export const OfferUnavailableError = createError<'OFFER_UNAVAILABLE', 409, [string]>('OFFER_UNAVAILABLE', '%s', 409);
/** A per-user limit (meters, open offers, trade size) stands in the way; `limit` and `max` say which. */
export const LimitExceededError = createError<'LIMIT_EXCEEDED', 409, [string]>('LIMIT_EXCEEDED', '%s', 409);
/** A conversion already settled otherwise than this request asks. */
export const ConversionSettledError = createError<'CONVERSION_SETTLED', 409, [string]>('CONVERSION_SETTLED', '%s', 409);
/** A payment that does not match its conversion (amount), or a payment id already used for another conversion. */
export const PaymentMismatchError = createError<'PAYMENT_MISMATCH', 409, [string]>('PAYMENT_MISMATCH', '%s', 409);
/** A migration run (or a restore) holds the fleet lock; the problem's `running` says what it is. */
export const MigrationRunningError = createError<'MIGRATION_RUNNING', 409, [string]>('MIGRATION_RUNNING', '%s', 409);
/** A `down` to a migration that is not applied. */
export const MigrationNotAppliedError = createError<'MIGRATION_NOT_APPLIED', 409, [string]>('MIGRATION_NOT_APPLIED', '%s', 409);
/** A database with tables but no migration history that is not the legacy contract; `differences` lists how. */
export const SchemaContractMismatchError = createError<'SCHEMA_CONTRACT_MISMATCH', 409, [string]>('SCHEMA_CONTRACT_MISMATCH', '%s', 409);
/** An applied migration was edited or deleted since it ran; `problems` says which and how. */
export const MigrationIntegrityFailedError = createError<'MIGRATION_INTEGRITY_FAILED', 409, [string]>('MIGRATION_INTEGRITY_FAILED', '%s', 409);
/** Pending migrations stand in the way (seeding needs the current schema). */
export const SchemaNotCurrentError = createError<'SCHEMA_NOT_CURRENT', 409, [string]>('SCHEMA_NOT_CURRENT', '%s', 409);

/** A cache namespace that is not one (see describeBadNamespace). */
export const InvalidNamespaceError = createError<'INVALID_NAMESPACE', 400, [string]>('INVALID_NAMESPACE', '%s', 400);
/** Two options that exclude each other, or a combination that means nothing. */
export const ConflictingOptionsError = createError<'CONFLICTING_OPTIONS', 400, [string]>('CONFLICTING_OPTIONS', '%s', 400);

/** More requests from one client address than the rate limit allows. */
export const TooManyRequestsError = createError<'TOO_MANY_REQUESTS', 429, [string]>('TOO_MANY_REQUESTS', '%s', 429);

/** A migration failed; its batch was rolled back. 5xx, but its message is for the operator who asked (`expose`). */
export const MigrationRunFailedError = createError<'MIGRATION_FAILED', 500, [string]>('MIGRATION_FAILED', '%s', 500);
/** Reference data an action needs (the default per-user limits) is not in the database: `npm run seed:reference` applies it. 5xx, its message is for the caller (`expose`). */
export const ReferenceDataMissingError = createError<'REFERENCE_DATA_MISSING', 503, [string]>('REFERENCE_DATA_MISSING', '%s', 503);
/** Redis cannot be reached for a purge. */
export const CacheUnavailableError = createError<'CACHE_UNAVAILABLE', 503, [string]>('CACHE_UNAVAILABLE', '%s', 503);
/** A take that waited for the trades before it longer than a request waits for a connection (DATABASE_ACQUIRE_TIMEOUT_MS); nothing was taken. 5xx, its message is for the caller (`expose`). */
export const TradingBusyError = createError<'TRADING_BUSY', 503, [string]>('TRADING_BUSY', '%s', 503);
/** A part of the service loaded on its first request (/docs, /admin/ui) could not be loaded. 5xx, its message is for the caller (`expose`). */
export const LoadFailedError = createError<'LOAD_FAILED', 503, [string]>('LOAD_FAILED', '%s', 503);

/**
 * Adds RFC 9457 extension members to an error's problem reply (`running`, `differences`,
 * `report`), and for a 5xx, lets its message through: only for errors whose message is
 * written for the caller.
 */
export function withProblemDetails<E extends Error>(error: E, extensions: Record<string, unknown> = {}, { expose = false } = {}): E {
  return Object.assign(error, { extensions, expose });
}
