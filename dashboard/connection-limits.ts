/**
 * @module connection-limits
 * What one dashboard client may hold. The dashboard runs inside the supervisor, beside the
 * stats port, the store writer, every listening socket and any `workers: 0` app, all sharing
 * one descriptor table and one event loop; so its connections are capped and every idle,
 * partial (slowloris) or kept-alive connection is ended within seconds (uncapped, 1,000 idle
 * connections starved every app for 86 s).
 *
 *   accept ─► over MAX_CONNECTIONS? closed at once (Node's server.maxConnections)
 *          ─► headers within HEADERS_TIMEOUT_MS, whole request within REQUEST_TIMEOUT_MS
 *          ─► silent socket: ended after IDLE_TIMEOUT_MS; between requests after KEEP_ALIVE_TIMEOUT_MS
 */
import type { Server } from 'node:http';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';

/** A few browser tabs (each a stream and a few requests) plus curl; far below any fd limit. */
export const MAX_CONNECTIONS = 64;
/** The request line and headers: a browser sends them in one packet. */
export const HEADERS_TIMEOUT_MS = 5_000;
/** Headers and the (at most 4 KiB) body together. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** A socket with nothing read or written; event streams write every 1.5 s, so they stay. */
export const IDLE_TIMEOUT_MS = 15_000;
/** Between two requests on one connection: the page polls at 1.5 s at the most. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * Node checks the header and request timeouts on this interval (30 s by default), so a
 * slowloris client would otherwise get up to 35 s instead of 5.
 */
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
const ACCEPT_ERROR_LOG_INTERVAL_MS = 10_000;

/** Fastify options that carry the timeouts to the node:http server it creates. */
export const CONNECTION_OPTIONS = {
  connectionTimeout: IDLE_TIMEOUT_MS,
  keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  requestTimeout: REQUEST_TIMEOUT_MS,
  http: { headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS },
} as const;

/**
 * Caps the connections and keeps accept errors from killing the supervisor: after listen,
 * node:net emits a failed accept (EMFILE when libuv's spare descriptor is gone too) as an
 * 'error' on the server, which Fastify no longer listens for, so it would be thrown.
 */
export function limitServer(server: Server, log: FastifyBaseLogger): void {
  server.maxConnections = MAX_CONNECTIONS;
  let lastLogAt = -Infinity;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!server.listening) return; // a listen error: Fastify's listen() reports it
    const now = performance.now();
    if (now - lastLogAt < ACCEPT_ERROR_LOG_INTERVAL_MS) return;
    lastLogAt = now;
    const hint = err.code === 'EMFILE' || err.code === 'ENFILE' ? ' (out of file descriptors: raise `ulimit -n`)' : '';
    log.error({ code: err.code }, `accept failed on the dashboard: ${err.message}${hint}`);
  });
}

/**
 * An operator's action that takes as long as the runtime needs (a reload waits for the old
 * workers to drain, up to drainTimeout): the idle cut above would close its socket while the
 * answer is on its way. Only for requests the guard has let through whole; Node puts the idle
 * timeout back for the next request on the connection.
 */
export function allowLongAnswer(request: FastifyRequest): void {
  request.raw.socket.setTimeout(0);
}
