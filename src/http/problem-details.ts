import { createRequire } from 'node:module';
import fp from 'fastify-plugin';
import type { FastifyError } from 'fastify';
import {
  BodyTooLargeError,
  InvalidContentLengthError,
  InvalidJsonError,
  InvalidUrlError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from '../errors.ts';

// Required, not imported: an ES import of node:http makes Node build its ES module facade,
// which reads every export, and reading `WebSocket`, `fetch` and the like loads undici, all of it
// (40 to 100 ms of a start, bench:startup) for a table of status texts.
const { STATUS_CODES } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** What every error reply carries (RFC 9457), as `application/problem+json`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

/** The members every problem reply has, for schemas that add extension members to them. */
export const problemProperties = {
  type: { type: 'string' },
  title: { type: 'string' },
  status: { type: 'integer' },
  detail: { type: 'string' },
  code: { type: 'string' },
} as const;
export const problemRequired = ['type', 'title', 'status', 'detail', 'code'];

/** Response schemas for the error statuses; spread into every route's `response`. */
export const problemResponses = {
  '4xx': { $ref: 'problem#' },
  '5xx': { $ref: 'problem#' },
} as const;

/** What withProblemDetails (src/errors.ts) adds to an error. */
type DetailedError = FastifyError & { extensions?: Record<string, unknown>; expose?: boolean };

// Fastify's own errors for a caller's mistake, as the enerlink error for the same fault: one
// code whichever route or parser met it (src/errors.ts), never FST_ERR_... in a reply.
const FASTIFY_ERRORS: Record<string, new (message: string) => FastifyError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: InvalidJsonError,
  FST_ERR_CTP_EMPTY_JSON_BODY: InvalidJsonError,
  FST_ERR_CTP_BODY_TOO_LARGE: BodyTooLargeError,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: UnsupportedMediaTypeError,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: InvalidContentLengthError,
  FST_ERR_BAD_URL: InvalidUrlError,
};

/**
 * The problem reply for `error`, with its extension members; 5xx do not reveal their message
 * unless the error was made to (`expose`).
 */
export function toProblem(error: DetailedError): Problem {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  if (status >= 500 && !error.expose) {
    return problem(status, 'INTERNAL_SERVER_ERROR', 'The server failed to answer this request; it has been logged.');
  }
  if (error.validation) return { ...problem(status, new ValidationFailedError(error.message).code, error.message), ...error.extensions };
  const Translated = error.code ? FASTIFY_ERRORS[error.code] : undefined;
  if (Translated) {
    const translated = new Translated(error.message);
    return problem(translated.statusCode ?? status, translated.code, translated.message);
  }
  // A plugin's own code (FST_JWT_..., FST_ERR_...) is not one of ours: the status names the fault.
  const code = error.code && !error.code.startsWith('FST_') ? error.code : (STATUS_CODES[status] ?? 'ERROR').toUpperCase().replace(/\W+/g, '_');
  return { ...problem(status, code, error.message), ...error.extensions };
}

// Words that a title writes in capitals.
const ACRONYMS = new Set(['json', 'url', 'idrs', 'id', 'jwt']);

function problem(status: number, code: string, detail: string): Problem {
  const words = code.toLowerCase().split('_');
  const title = words.map(word => (ACRONYMS.has(word) ? word.toUpperCase() : word)).join(' ');
  return {
    type: `urn:enerlink:problem:${words.join('-')}`,
    // the same for every occurrence of the fault (RFC 9457): "Invalid JSON", "Insufficient balance"
    title: title.charAt(0).toUpperCase() + title.slice(1),
    status,
    detail,
    code,
  };
}

/**
 * The one error handler: every error, thrown by a route, a hook, validation or Fastify
 * itself, and every unknown route, is answered as `application/problem+json`.
 */
export default fp(
  async app => {
    app.addSchema({
      $id: 'problem',
      type: 'object',
      properties: problemProperties,
      required: problemRequired,
      // extension members: what is running (409), how a schema differs, a failed run's report
      additionalProperties: true,
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const body = toProblem(error);
      if (body.status >= 500) request.log.error({ err: error }, 'request failed');
      if (body.status === 401) reply.header('www-authenticate', 'Bearer');
      return reply.code(body.status).type('application/problem+json').send(body);
    });

    app.setNotFoundHandler((request, reply) => {
      const body = toProblem(new RouteNotFoundError(request.method, request.url.split('?')[0]));
      return reply.code(404).type('application/problem+json').send(body);
    });
  },
  { name: 'problem-details' },
);
