/**
 * @module http-listener
 * The listener of a `protocol: 'http'` app: Node's own HTTP/1.1 server (its parser, keep-alive
 * and framing; no HTTP code of ours), with every request handed to the app host as an
 * HttpExchange, so thread limits, the queue, timeouts, stats and timing rows work as for SCGI.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { errors } from '../../shared/errors.js';
import type { AppHost } from '../app-host.js';
import type { HostedRequest } from '../hosted-request.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { httpResponse } from '../protocol/response-head.js';
import { connectionPeer, HttpExchange, type HttpListenerState } from './http-exchange.js';
import { compileTrust, DEFAULT_TRUST_PROXY } from './trust-proxy.js';

/**
 * Longer than nginx's default `keepalive_timeout` towards upstreams (60 s): the side that closes an
 * idle connection first must be the front end, or it may send a request on a connection we are
 * closing at that moment, and a POST on it becomes a 502 (docs/frontends.md, "HTTP").
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 75_000;
/** How often node:http checks headersTimeout (its default, 30 s, would let slowloris sit 3× longer). */
const MAX_CHECK_INTERVAL_MS = 1000;

export interface HttpListenerOptions {
  host: AppHost;
  limits: ScgiLimits;
  registry: Set<HostedRequest>;
  keepAliveTimeoutMs?: number;
  trustProxy?: readonly string[] | false;
}

export interface HttpListener {
  readonly server: HttpServer;
  /** Closes the listening socket only; connections go on (see stopListening below). */
  stopListening(): Promise<void>;
  /** From now on every response ends its connection; idle connections close now. */
  beginDrain(): void;
  /**
   * Closes connections that served a request and wait for the next. One that has not sent its
   * first request yet is left alone: its request may be in the socket's buffer, unread, and it is
   * answered (then closed) when it is read. Age cannot tell: a worker niced down while it drains
   * can wake after any delay with unread requests on every socket.
   */
  closeIdleConnections(): void;
  /** Closes every connection left; returns how many were open. */
  closeAllConnections(): number;
  /** A connection accepted elsewhere (the supervisor's backlog sweep while it stops). */
  adopt(socket: Socket): void;
}

export function createHttpListener(options: HttpListenerOptions): HttpListener {
  const { host, limits } = options;
  const state: HttpListenerState = {
    host,
    trust: compileTrust(options.trustProxy ?? DEFAULT_TRUST_PROXY),
    registry: options.registry,
    draining: false,
  };
  const server = createServer({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    // Slowloris: the whole head within headerTimeout, as for SCGI. A slow body is the sweep's
    // (bodyIdleTimeout, between chunks), and a slow app its requestTimeout: node:http's own
    // requestTimeout (300 s for the whole request) would cut long uploads an app allows.
    headersTimeout: limits.headerTimeoutMs,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, limits.headerTimeoutMs),
    maxHeaderSize: limits.maxHeaderBytes,
  });
  const sockets = new Set<TrackedSocket>();
  server.on('connection', (socket: TrackedSocket) => {
    socket[kServed] = 0;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const closeIdle = (): void => {
    for (const socket of sockets) if ((socket[kServed] ?? 0) > 0 && isBetweenRequests(socket)) socket.destroy();
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as TrackedSocket;
    socket[kServed] = (socket[kServed] ?? 0) + 1;
    const exchange = new HttpExchange(req, res, state);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes) exchange.refuse(new errors.DOW_ERR_BODY_TOO_LARGE(declared, limits.maxBodyBytes));
    else host.admit(exchange);
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => onClientError(host, err, socket));
  return {
    server,
    // http.Server.close() would also close every connection node:http counts as idle, which
    // includes one accepted a moment ago whose first request is still on its way: that client
    // would get a closed connection and no answer (a reload under load showed it).
    stopListening: () => new Promise((resolve) => NetServer.prototype.close.call(server, () => resolve())),
    beginDrain() {
      state.draining = true;
      for (const request of state.registry) if (request instanceof HttpExchange) request.closeAfterResponse();
      closeIdle();
    },
    closeIdleConnections: closeIdle,
    closeAllConnections() {
      const open = sockets.size;
      for (const socket of sockets) socket.destroy();
      return open;
    },
    adopt: (socket) => server.emit('connection', socket),
  };
}

const kServed = Symbol('dragon-on-wheels.served');
type TrackedSocket = Socket & {
  [kServed]?: number;
  _httpMessage?: unknown;
  parser?: { incoming?: unknown } | null;
};

/**
 * No response in progress and no request parsed and unanswered. A request whose head is arriving
 * right now looks the same: closing then is the keep-alive race every HTTP/1.1 server has, which
 * clients and proxies answer by sending an idempotent request again (RFC 9112, 9.3.1).
 */
function isBetweenRequests(socket: TrackedSocket): boolean {
  return socket._httpMessage == null && socket.parser?.incoming == null;
}

const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * What node:http does by default (an answer if nothing was sent yet, then close), plus the log
 * line and the bad_requests count every malformed SCGI request gets.
 */
function onClientError(host: AppHost, err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
  const code = err.code ?? 'UNKNOWN';
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    // The peer left between requests or mid-head: nothing was asked, nothing to answer.
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_STATUS[code] ?? 400;
  const peer = connectionPeer(socket);
  // An SCGI front end pointed at an HTTP port sends a netstring ("70:CONTENT_LENGTH\0...").
  const scgi = err.rawPacket !== undefined && /^\d+:/.test(err.rawPacket.subarray(0, 12).toString('latin1'));
  const detail = scgi ? 'an SCGI request arrived on an HTTP port (this app has protocol: \'http\'; point the front end at it with proxy_pass, or set protocol: \'scgi\')' : err.message;
  host.stats.badRequests++;
  host.logBadRequest(code, { peer }, `bad HTTP request from ${peer}: ${detail}`);
  const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && (pending == null || pending.headersSent !== true)) {
    socket.write(httpResponse(status, `${STATUS_CODES[status] ?? 'Bad Request'}${scgi ? `: ${detail}` : ''}\n`), 'latin1');
  }
  socket.destroySoon();
}
