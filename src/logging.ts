import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions } from 'pino';
import type { AppConfig } from './config.ts';

/** Secrets a log line must never show, wherever they appear in it. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  ...['password', 'token', 'adminToken', 'jwtSecret', 'paymentWebhookSecret', 'deviceKey', 'pairingCode'].flatMap(key => [key, `*.${key}`]),
];

/** The longest a buffered log line waits before it is written, whatever the traffic. */
export const LOG_FLUSH_INTERVAL_MS = 100;

type Destination = ReturnType<typeof pino.destination>;
const destinations = new Map<number, Destination>();

/**
 * Standard output, written in batches of at least `bufferBytes` (LOG_BUFFER_BYTES) and at least
 * every LOG_FLUSH_INTERVAL_MS, instead of one write system call per line: under load a line per
 * request was a write per request, as costly as the request's own work. pino's destination
 * (sonic-boom) does the buffering (`minLength`) and the timer (`periodicFlush`, unref'd); writes
 * stay synchronous, so what is buffered is written by a synchronous flush when the process
 * exits, `process.exit()` and a crash (an uncaught exception) included. What skips `exit`
 * loses what is buffered: SIGKILL or a signal nothing handles (the last interval's lines),
 * `process.abort()` and fatal native errors (out of memory), and a hung event loop (neither the
 * timer nor a signal handler runs). One per
 * process and size: standard output is the process's.
 */
export function bufferedStdout(bufferBytes: number): Destination {
  let destination = destinations.get(bufferBytes);
  if (destination) return destination;
  destination = pino.destination({ dest: 1, sync: true, minLength: bufferBytes, periodicFlush: LOG_FLUSH_INTERVAL_MS });
  const flush = destination.flushSync.bind(destination);
  process.once('exit', flush);
  destinations.set(bufferBytes, destination);
  return destination;
}

/**
 * The service's logger settings; `stream` sends the lines elsewhere than stdout (tests read
 * them). Without it, standard output buffered by LOG_BUFFER_BYTES (0: a write per line).
 */
export function loggerOptions(config: AppConfig, stream?: NodeJS.WritableStream) {
  const destination = stream ?? (config.logBufferBytes > 0 && config.logLevel !== 'silent' ? bufferedStdout(config.logBufferBytes) : undefined);
  return { level: config.logLevel, redact: REDACTED_LOG_PATHS, ...(destination && { stream: destination }) };
}

/**
 * `request.log`, made when first used: most requests log nothing through it (their one line is
 * written by OneLinePerRequest, which names the request id itself), and a pino child per request
 * cost as much as the line. The child it makes is exactly the one Fastify would have made.
 */
class LazyRequestLogger implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get #logger(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options));
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#logger.level = level;
  }

  fatal: FastifyBaseLogger['fatal'] = (...args: unknown[]) => (this.#logger.fatal as (...a: unknown[]) => void)(...args);
  error: FastifyBaseLogger['error'] = (...args: unknown[]) => (this.#logger.error as (...a: unknown[]) => void)(...args);
  warn: FastifyBaseLogger['warn'] = (...args: unknown[]) => (this.#logger.warn as (...a: unknown[]) => void)(...args);
  info: FastifyBaseLogger['info'] = (...args: unknown[]) => (this.#logger.info as (...a: unknown[]) => void)(...args);
  debug: FastifyBaseLogger['debug'] = (...args: unknown[]) => (this.#logger.debug as (...a: unknown[]) => void)(...args);
  trace: FastifyBaseLogger['trace'] = (...args: unknown[]) => (this.#logger.trace as (...a: unknown[]) => void)(...args);
  silent: FastifyBaseLogger['silent'] = () => {};

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: `request.log` made lazily (see LazyRequestLogger). */
export function lazyRequestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options);
}

/**
 * One log line per request, written when the response is: request id, method, url, status and
 * response time. Fastify's "incoming request" line is dropped; its error lines (a failed
 * response, a 5xx from the error handler) are kept, redacted as every other line.
 */
export class OneLinePerRequest extends LogController {
  #lines: FastifyBaseLogger | undefined;

  /**
   * Writes the request lines through a child of `logger` without redaction. They hold five
   * fixed fields, none of them a redacted path, so redaction would leave them as they are, and
   * pino's redaction (which visits every field of a line when a path starts with '*') cost
   * about as much as the rest of a cached read in a profile of bench:http's server.
   */
  attach(logger: FastifyBaseLogger): void {
    this.#lines = logger.child({}, { redact: [] });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return super.requestCompleted(error, request, reply);
    (this.#lines ?? reply.log).info(
      { reqId: request.id, method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime },
      'request completed',
    );
  }
}
