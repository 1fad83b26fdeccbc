/**
 * @module http-listener
 * The listener of a `protocol: 'http'` app: Node's own HTTP/1.1 server (its parser, keep-alive
 * and framing; no HTTP code of ours), with every request handed to the app host as an
 * HttpExchange, so thread limits, the queue, timeouts, stats and timing rows work as for SCGI.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { errors } from '../../shared/errors.js';
import type { AppHost } from '../host/app-host.js';
import type { HostedRequest } from '../host/hosted-request.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { httpResponse } from '../protocol/response-head.js';
import { connectionPeer, HttpExchange, type HttpListenerState } from './http-exchange.js';
import { compileTrust, DEFAULT_TRUST_PROXY } from './trust-proxy.js';
import { DEFAULT_MAX_UPGRADES, HttpUpgrades } from './http-upgrades.js';
import { fixedCapacity, type UpgradeCapacity } from './upgrade-capacity.js';
import type { UpgradeListener } from '../adapters/app-handler.js';
import type { CloseCode } from '../protocol/websocket-close.js';
import { kHttpBusy, kHttpHeld, kHttpServed } from '../core/symbols.js';

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
  /** The app's taker of upgraded connections; without one, an Upgrade request is an ordinary request. */
  upgrade?: UpgradeListener;
  /** Upgraded connections the app holds at most; past it, 503. */
  maxUpgrades?: number;
  /** In a worker: its lease of maxUpgrades (the whole cap here when absent). */
  upgradeCapacity?: UpgradeCapacity;
  /** How long a drain leaves upgraded connections open, ms; the drain's own timeout if unset. */
  upgradeDrainTimeoutMs?: number;
}

export interface HttpListener {
  readonly server: HttpServer;
  /** Closes the listening socket only; connections go on (see stopListening below). */
  stopListening(): Promise<void>;
  /**
   * From now on every response ends its connection. Idle kept-alive connections stay open: the
   * front end may be sending a request on one right now, and nginx answers a POST it sent on a
   * pooled connection that closed under it with 502 (it never retries a non-idempotent request).
   * Their next request is answered with `Connection: close`; closeIdleConnections() ends the
   * ones still idle at the drain deadline.
   */
  beginDrain(): void;
  /**
   * Closes connections that served a request and wait for the next; returns how many. One that
   * has not sent its first request yet is left alone: its request may be in the socket's buffer,
   * unread, and it is answered (then closed) when it is read. Age cannot tell: a worker niced down
   * while it drains can wake after any delay with unread requests on every socket.
   */
  closeIdleConnections(): number;
  /** Closes every connection left; returns how many were open. */
  closeAllConnections(): number;
  /** A connection accepted elsewhere (the supervisor's backlog sweep while it stops). */
  adopt(socket: Socket): void;
  readonly upgradeDrainTimeoutMs: number | undefined;
  /**
   * Waits until the upgraded connections are all closed or `deadline` (performance.now()) comes,
   * then sends each one left a close frame and ends it; resolves once all are closed, with how
   * many it closed.
   */
  drainUpgrades(deadline: number, code: CloseCode, reason: string): Promise<number>;
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
    socket[kHttpServed] = 0;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket as TrackedSocket;
    socket[kHttpServed] = (socket[kHttpServed] ?? 0) + 1;
    socket[kHttpBusy] = true;
    // 'close' follows every ending: the answer ('finish', then close), a cut, the client leaving.
    res.once('close', () => serveNext(socket));
    const exchange = new HttpExchange(req, res, state);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes) exchange.refuse(new errors.DOW_ERR_BODY_TOO_LARGE(declared, limits.maxBodyBytes));
    else host.admit(exchange);
  };
  const serveNext = (socket: TrackedSocket): void => {
    socket[kHttpBusy] = false;
    const held = socket[kHttpHeld];
    if (held === undefined || held.length === 0) return;
    // The last response said `Connection: close` (node:http is ending the socket) or the socket
    // broke: what the client pipelined behind it is not answered, as in any HTTP/1.1 server.
    if (socket.destroyed || !socket.writable) {
      held.length = 0;
      return;
    }
    const [req, res] = held.shift() as HeldRequest;
    if (held.length === 0) resumeReading(socket);
    serve(req, res);
  };
  const closeIdle = (): number => {
    let closed = 0;
    for (const socket of sockets) {
      if ((socket[kHttpServed] ?? 0) > 0 && isBetweenRequests(socket)) {
        socket.destroy();
        closed++;
      }
    }
    return closed;
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as TrackedSocket;
    if (socket[kHttpBusy] !== true) return serve(req, res);
    // A pipelined request: node:http emits 'request' for each as soon as it is parsed, whatever
    // the one before still does. It waits here for its turn, and the socket stops being read.
    (socket[kHttpHeld] ??= []).push([req, res]);
    pauseReading(socket);
  });
  const upgrade = options.upgrade;
  const upgrades = upgrade === undefined ? null : new HttpUpgrades({ host, upgrade, trust: state.trust, capacity: options.upgradeCapacity ?? fixedCapacity(options.maxUpgrades ?? DEFAULT_MAX_UPGRADES) });
  // Only with a listener: node:http serves an Upgrade request as an ordinary one when the server
  // has none, which is what an app that takes no upgrades expects (its own 404, 426...).
  if (upgrades !== null) {
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      // No longer an HTTP connection: the drain's idle and final sweeps leave it to drainUpgrades.
      sockets.delete(socket as TrackedSocket);
      upgrades.accept(req, socket, head);
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => onClientError(host, err, socket));
  return {
    server,
    // http.Server.close() would also close every connection node:http counts as idle, which
    // includes one accepted a moment ago whose first request is still on its way: that client
    // would get a closed connection and no answer (a reload under load showed it).
    stopListening: () => new Promise((resolve) => NetServer.prototype.close.call(server, () => resolve())),
    beginDrain() {
      state.draining = true;
      upgrades?.beginDrain();
      for (const request of state.registry) if (request instanceof HttpExchange) request.closeAfterResponse();
    },
    closeIdleConnections: closeIdle,
    closeAllConnections() {
      let open = 0;
      for (const socket of sockets) {
        // One destroyed a moment ago (closeIdleConnections) leaves the set only on its 'close'.
        if (!socket.destroyed) open++;
        socket.destroy();
      }
      return open;
    },
    adopt: (socket) => server.emit('connection', socket),
    upgradeDrainTimeoutMs: options.upgradeDrainTimeoutMs,
    async drainUpgrades(deadline, code, reason) {
      if (upgrades === null) return 0;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([upgrades.whenEmpty(), new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - performance.now()))))]);
      clearTimeout(timer);
      return upgrades.closeAll(code, reason);
    },
  };
}

type HeldRequest = [IncomingMessage, ServerResponse];
type TrackedSocket = Socket & {
  [kHttpServed]?: number;
  [kHttpBusy]?: boolean;
  [kHttpHeld]?: HeldRequest[];
  _httpMessage?: unknown;
  /** node:http's own "stop reading" flag: its resume() calls (a request body read) obey it. */
  _paused?: boolean;
  parser?: { incoming?: unknown; pause(): void; resume(): void } | null;
};

/*
 * One request per connection at a time, as over SCGI: a pipelining client must not take every
 * thread (or fill the queue for everyone) from one connection.
 *
 *   socket ─▶ llhttp ─'request'─▶ busy? ──no──▶ HttpExchange ─▶ host.admit
 *                                   └─yes─▶ held: [r2 r3 …]; reading paused
 *   busy response 'close' ─▶ next held one is served; the last one resumes reading
 *
 * Reading stops as node:http stops it when responses pile up unsent (socket._paused, which its
 * request-body reads respect, and the parser paused after the chunk it is in), so a flood of
 * pipelined requests holds at most one read's worth of them, not every request it sent.
 */
function pauseReading(socket: TrackedSocket): void {
  if (socket._paused === true) return;
  socket._paused = true;
  socket.pause();
  // Inside the parser's execute(): node:http pauses the parser itself after it, when it sees
  // _paused (onParserExecuteCommon).
}

function resumeReading(socket: TrackedSocket): void {
  if (socket._paused !== true) return;
  socket._paused = false;
  socket.parser?.resume();
  socket.resume();
}

/**
 * No response in progress, no request parsed and unanswered, none held. A request whose head is
 * arriving right now looks the same: closing then is the keep-alive race every HTTP/1.1 server
 * has, which is why a drain leaves these alone until its deadline.
 */
function isBetweenRequests(socket: TrackedSocket): boolean {
  return socket[kHttpBusy] !== true && (socket[kHttpHeld]?.length ?? 0) === 0 && socket._httpMessage == null && socket.parser?.incoming == null;
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
