/**
 * @module errors
 * Every error this project raises, in one registry with stable codes, in the manner of Fastify's
 * lib/errors.js: each entry is a class with a code, a default message and the HTTP status that
 * a client should see when the error reaches one.
 */
import { format } from 'node:util';

export interface DragonErrorClass {
  new (...args: unknown[]): DragonError;
  readonly code: string;
}

export class DragonError extends Error {
  readonly code: string;
  readonly statusCode: number;
  constructor(code: string, message: string, statusCode: number) {
    super(message);
    this.name = 'DragonError';
    this.code = code;
    this.statusCode = statusCode;
  }
}

/** Builds a class whose constructor arguments fill the `%s`/`%d` slots of `message`. */
function createError(code: string, message: string, statusCode = 500): DragonErrorClass {
  const Class = class extends DragonError {
    static readonly code = code;
    constructor(...args: unknown[]) {
      super(code, format(message, ...args), statusCode);
    }
  };
  Object.defineProperty(Class, 'name', { value: code });
  return Class;
}

export const errors = {
  // SCGI framing (server/protocol). 400 unless the body is too large.
  DOW_ERR_NETSTRING_LENGTH: createError('DOW_ERR_NETSTRING_LENGTH', 'bad netstring length: %s', 400),
  DOW_ERR_NETSTRING_COMMA: createError('DOW_ERR_NETSTRING_COMMA', 'netstring not terminated by "," (got byte 0x%s)', 400),
  DOW_ERR_HEADER_TOO_LARGE: createError('DOW_ERR_HEADER_TOO_LARGE', 'header block of %s bytes exceeds the limit of %d', 431),
  DOW_ERR_HEADER_FORMAT: createError('DOW_ERR_HEADER_FORMAT', 'malformed header block: %s', 400),
  DOW_ERR_HEADER_DUPLICATE: createError('DOW_ERR_HEADER_DUPLICATE', 'duplicate header name %s', 400),
  DOW_ERR_CONTENT_LENGTH: createError('DOW_ERR_CONTENT_LENGTH', 'CONTENT_LENGTH must be the first header, in decimal: %s', 400),
  DOW_ERR_SCGI_MISSING: createError('DOW_ERR_SCGI_MISSING', 'header SCGI with value "1" is missing (%s)', 400),
  DOW_ERR_BODY_TOO_LARGE: createError('DOW_ERR_BODY_TOO_LARGE', 'body of %d bytes exceeds the limit of %d', 413),
  DOW_ERR_HEADER_TIMEOUT: createError('DOW_ERR_HEADER_TIMEOUT', 'header block not received within %d ms', 408),
  DOW_ERR_BODY_TIMEOUT: createError('DOW_ERR_BODY_TIMEOUT', 'no body bytes received for %d ms', 408),
  DOW_ERR_TRUNCATED: createError('DOW_ERR_TRUNCATED', 'connection closed after %d of %d body bytes', 400),
  DOW_ERR_REQUEST_INVALID: createError('DOW_ERR_REQUEST_INVALID', 'the request is not valid HTTP: %s', 400),
  // `curl http://127.0.0.1:9002/`, a newcomer's first move: answered in HTTP so curl shows it.
  DOW_ERR_HTTP_ON_SCGI_PORT: createError('DOW_ERR_HTTP_ON_SCGI_PORT', 'an HTTP request (%s) arrived on an SCGI port. This port speaks SCGI to a front end (nginx, Apache, lighttpd): point the browser or curl at the front end, or try the app with `dragon-on-wheels load <host:port>`', 400),

  // Serving (server/). Statuses are those the client gets.
  // The parenthesis: "limit=N online=N" in-process; a worker names the app's limit and its share.
  DOW_ERR_QUEUE_FULL: createError('DOW_ERR_QUEUE_FULL', '%s: Threads limit reached! (%s) queue full (%d waiting)', 503),
  DOW_ERR_UPGRADES_FULL: createError('DOW_ERR_UPGRADES_FULL', '%s: upgrade refused: %d upgraded connections open in this process already (its maxUpgrades: %s)', 503),
  DOW_ERR_QUEUE_TIMEOUT: createError('DOW_ERR_QUEUE_TIMEOUT', '%s: Threads limit reached! (%s) waited %d ms in the queue', 503),
  DOW_ERR_REQUEST_TIMEOUT: createError('DOW_ERR_REQUEST_TIMEOUT', '%s: request did not finish within %d ms', 504),
  DOW_ERR_APP_THREW: createError('DOW_ERR_APP_THREW', '%s: the app failed: %s', 500),
  DOW_ERR_FETCH_RESULT: createError('DOW_ERR_FETCH_RESULT', '%s: the fetch handler returned %s, not a Response', 500),
  DOW_ERR_UNKNOWN_APP: createError('DOW_ERR_UNKNOWN_APP', 'no app named %s', 404),
  DOW_ERR_THREADS_RANGE: createError('DOW_ERR_THREADS_RANGE', 'threads must be an integer from 1 to %d, got %s', 400),
  DOW_ERR_THREADS_BELOW_WORKERS: createError('DOW_ERR_THREADS_BELOW_WORKERS', '%s: threads must be at least its %d workers (each worker needs a slot), got %d', 400),
  DOW_ERR_NOT_ADAPTIVE: createError('DOW_ERR_NOT_ADAPTIVE', '%s has no adaptive range in its config (adaptive: { min, max }): its limit can only be fixed', 409),
  DOW_ERR_THREADS_MODE_REMOTE: createError('DOW_ERR_THREADS_MODE_REMOTE', 'cannot change how %s sets its limit from a dashboard in another process (its command table carries limits only): use the dashboard that serve starts', 409),
  DOW_ERR_THREADS_MODE: createError('DOW_ERR_THREADS_MODE', 'mode must be "adaptive" or "fixed", got %s', 400),
  DOW_ERR_RELOAD: createError('DOW_ERR_RELOAD', 'cannot reload %s: %s', 409),
  DOW_ERR_WORKERS_RANGE: createError('DOW_ERR_WORKERS_RANGE', 'workers must be an integer from 1 to %d, got %s', 400),
  DOW_ERR_SCALE: createError('DOW_ERR_SCALE', 'cannot scale %s: %s', 409),
  DOW_ERR_WORKER_START: createError('DOW_ERR_WORKER_START', '%s: worker %d failed to start: %s', 500),
  DOW_ERR_WORKER_SPAWN: createError('DOW_ERR_WORKER_SPAWN', '%s: cannot start a worker process (%s): %s', 503),
  DOW_ERR_WORKER_UNCAUGHT: createError('DOW_ERR_WORKER_UNCAUGHT', '%s: worker %d: %s outside any request: it stops taking requests, finishes those it runs and is replaced', 500),
  DOW_ERR_WORKER_HUNG: createError('DOW_ERR_WORKER_HUNG', '%s: worker %d has not answered for %d ms (hangTimeout %d ms): killed', 502),
  DOW_ERR_WORKER_FIGURES: createError('DOW_ERR_WORKER_FIGURES', 'unusable figures from a worker: %s', 500),

  // Configuration and start-up (exit code 2 from the CLI).
  DOW_ERR_CONFIG: createError('DOW_ERR_CONFIG', 'config %s: %s', 500),
  DOW_ERR_LISTEN: createError('DOW_ERR_LISTEN', 'cannot listen on %s: %s', 500),
  // log.file (or an app's file under it) that cannot be created or opened for appending at start.
  DOW_ERR_LOG_FILE: createError('DOW_ERR_LOG_FILE', 'log.file %s: %s', 500),
  DOW_ERR_ADDRESS: createError('DOW_ERR_ADDRESS', 'bad listen address %s: expected %s', 500),
  DOW_ERR_APP_MODULE: createError('DOW_ERR_APP_MODULE', 'app %s: %s', 500),
  // An app's envFile (dotenv format) that does not parse; the config error names the file.
  DOW_ERR_ENV_FILE: createError('DOW_ERR_ENV_FILE', 'line %d: %s', 500),
  // Thrown by the native I/O core (native/src/addon*.c) with these codes: a wrong argument from
  // JavaScript, or a Node-API call that failed (out of memory, a value over V8's limits).
  DOW_ERR_NATIVE_ARGS: createError('DOW_ERR_NATIVE_ARGS', 'native I/O core: %s', 500),
  DOW_ERR_NATIVE_CALL: createError('DOW_ERR_NATIVE_CALL', 'native I/O core: %s failed', 500),

  // Timing store and dashboard.
  DOW_ERR_STORE: createError('DOW_ERR_STORE', 'timing store %s: %s', 500),
  DOW_ERR_ROW_FRAME: createError('DOW_ERR_ROW_FRAME', 'timing rows from a worker: not a row frame: %s', 500),
  // Thrown by native/src/addon-ring.c's ringRead: the ring a worker shares with the supervisor has a
  // header the supervisor cannot trust; its rows from there on are lost (and counted).
  DOW_ERR_ROW_RING: createError('DOW_ERR_ROW_RING', 'timing rows from a worker: %s', 500),
  DOW_ERR_MIGRATION: createError('DOW_ERR_MIGRATION', 'database %s has schema version %d, newer than this program knows (%d)', 500),
  DOW_ERR_UNAUTHORIZED: createError('DOW_ERR_UNAUTHORIZED', 'authentication required: %s', 401),
  DOW_ERR_FORBIDDEN_ORIGIN: createError('DOW_ERR_FORBIDDEN_ORIGIN', 'request refused: %s', 403),
  DOW_ERR_RUNTIME_UNREACHABLE: createError('DOW_ERR_RUNTIME_UNREACHABLE', 'runtime unreachable: %s', 503),
  DOW_ERR_DASHBOARD_BIND: createError('DOW_ERR_DASHBOARD_BIND', 'refusing to listen on %s without an admin token', 500),
  DOW_ERR_WEAK_TOKEN: createError('DOW_ERR_WEAK_TOKEN', 'the admin token (%s) is too weak: %s', 500),
  DOW_ERR_TOO_MANY_ATTEMPTS: createError('DOW_ERR_TOO_MANY_ATTEMPTS', 'too many wrong admin tokens from this address or in total; try again in %d s', 429),
  DOW_ERR_DASHBOARD_BUSY: createError('DOW_ERR_DASHBOARD_BUSY', 'the dashboard is busy: %s', 503),
  // Dashboard requests: bad input, unexpected Host (DNS rebinding), unknown routes.
  DOW_ERR_BAD_REQUEST: createError('DOW_ERR_BAD_REQUEST', 'bad request: %s', 400),
  DOW_ERR_FORBIDDEN_HOST: createError('DOW_ERR_FORBIDDEN_HOST', 'Host %s is not served here', 421),
  DOW_ERR_ROUTE_NOT_FOUND: createError('DOW_ERR_ROUTE_NOT_FOUND', 'no route %s %s', 404),
  DOW_ERR_INTERNAL: createError('DOW_ERR_INTERNAL', 'internal error: %s', 500),
} as const;

export type ErrorCode = keyof typeof errors;

/** Narrows an unknown caught value to one of our errors, optionally of one code. */
export function isDragonError(err: unknown, code?: ErrorCode): err is DragonError {
  return err instanceof DragonError && (code === undefined || err.code === code);
}
