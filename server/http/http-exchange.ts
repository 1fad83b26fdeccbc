/**
 * @module http-exchange
 * One request of a `protocol: 'http'` app. node:http parsed it and owns the connection (keep-alive,
 * pipelining, chunked framing); this object is what the app host queues, admits, times out and
 * records, exactly as it does an SCGI connection. One HTTP connection carries many of these.
 *
 *   'request' ──admit──▶ QUEUED ──slot──▶ RUNNING ──res 'finish'──────────────▶ DONE (answered)
 *                  └──────▶ 503 ◀──────────┘   └──res 'close' first (client left)──▶ DONE (499)
 *                                                └──sweep: 504 / 408 / 413, or a cut──▶ DONE
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errors, type DragonError } from '../../shared/errors.js';
import { Outcome } from '../../shared/timing-row.js';
import { enterApp } from '../adapters/enter-app.js';
import { serveFetchOverNode } from '../adapters/node/fetch-bridge.js';
import type { ScgiRequestInfo } from '../adapters/scgi-request-info.js';
import { resolveTarget, type RequestTarget } from '../adapters/request-target.js';
import { joinHeaderValues } from '../protocol/header-block.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { AppHost } from '../app-host.js';
import { CLIENT_CLOSED_STATUS } from '../connection.js';
import { Phase, type AccessFields, type HostedRequest } from '../hosted-request.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { describePeer, peerOf, type PeerName } from '../peer-name.js';
import { RequestInfo } from '../request-info.js';
import { identifyClient, trustForPeer, type ClientIdentity, type TrustFunction } from './trust-proxy.js';

/** What the exchange needs from its listener. */
export interface HttpListenerState {
  readonly host: AppHost;
  readonly trust: TrustFunction;
  /** The server's live requests, for the sweep and the drain. */
  readonly registry: Set<HostedRequest>;
  /** Set once the server drains: every response from then on ends its connection. */
  draining: boolean;
}

// Per connection, on the socket: its real peer (before any request presented its client there)
// and how many of its bytes earlier requests already accounted for.
const kPeer = Symbol('dragon-on-wheels.peer');
const kTrust = Symbol('dragon-on-wheels.trust');
const kReadMark = Symbol('dragon-on-wheels.readMark');
const kWriteMark = Symbol('dragon-on-wheels.writeMark');
/**
 * The connection's real peer for log lines: the front end, even after a request presented its
 * forwarded client on the socket (kPeer keeps the real one from the first request on).
 */
export function connectionPeer(socket: Socket): string {
  const peer = (socket as TrackedSocket)[kPeer];
  return peer === undefined ? describePeer(socket.remoteAddress, socket.remotePort) : describePeer(peer.address, peer.port);
}

type TrackedSocket = Socket & {
  [kPeer]?: PeerName;
  /** The listener's trust function with this peer's answer kept (trustForPeer). */
  [kTrust]?: TrustFunction;
  [kReadMark]?: number;
  [kWriteMark]?: number;
  _peername?: PeerName;
  encrypted?: boolean;
};
export class HttpExchange implements HostedRequest {
  phase = Phase.QUEUED;
  readonly acceptedAt = performance.now();
  readonly startMs = Date.now();
  queuedAt = 0;
  inQueue = false;
  admittedAt = 0;
  status = 0;
  outcome: Outcome | null = null;
  readonly target: RequestTarget;
  readonly client: ClientIdentity;
  private readonly socket: TrackedSocket;
  private readonly host: AppHost;
  /** Socket bytes read when the sweep last looked, and when that number last moved. */
  private seenBytesRead: number;
  private lastBodyAt = 0;
  private infoCache: ScgiRequestInfo | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly listener: HttpListenerState,
  ) {
    this.host = listener.host;
    this.socket = req.socket as TrackedSocket;
    const socket = this.socket;
    const peer = (socket[kPeer] ??= { address: socket.remoteAddress, port: socket.remotePort, family: socket.remoteFamily });
    this.seenBytesRead = socket.bytesRead;
    const trust = (socket[kTrust] ??= trustForPeer(listener.trust, peer.address));
    this.client = identifyClient(peer.address, req.headers as Record<string, string | undefined>, trust);
    const path = req.url ?? '/';
    this.target = resolveTarget({ REQUEST_METHOD: req.method ?? 'GET', REQUEST_URI: path }, this.host.mount);
    if (listener.draining) res.shouldKeepAlive = false;
    listener.registry.add(this);
    res.on('finish', onResponseFinish);
    res.on('close', onResponseClose);
    (res as ServerResponseWithExchange)[kExchange] = this;
  }

  get bytesIn(): number {
    return this.socket.bytesRead - (this.socket[kReadMark] ?? 0);
  }

  get bytesOut(): number {
    return this.socket.bytesWritten - (this.socket[kWriteMark] ?? 0);
  }

  accessFields(): AccessFields {
    const headers = this.req.headers;
    return {
      uri: this.req.url ?? '/',
      protocol: `HTTP/${this.req.httpVersion}`,
      remoteAddr: this.client.address ?? '',
      referer: headers.referer ?? '',
      userAgent: headers['user-agent'] ?? '',
    };
  }

  /** `req.scgi`: the same surface as over SCGI, with a CGI-style env made on first use. */
  get info(): ScgiRequestInfo {
    this.infoCache ??= new RequestInfo(this.host, this.target.mount, () => cgiEnvOf(this));
    return this.infoCache;
  }

  run(handler: AppHandler, appName: string): void {
    const { req, res } = this;
    this.presentClient();
    req.scgi = this.info;
    const target = this.target;
    if (target.mount !== '') {
      // As over SCGI: what Express gives a sub-app mounted with app.use(prefix, app).
      const mounted = req as IncomingMessage & { baseUrl?: string; originalUrl?: string };
      mounted.originalUrl = req.url;
      mounted.baseUrl = target.mount;
      req.url = target.url;
    }
    if (handler.type === 'fetch') {
      serveFetchOverNode(handler.handler as Parameters<typeof serveFetchOverNode>[0], req, res, this.info, {
        https: this.client.https,
        signal: this.abortSignal(),
        appName,
      }).catch((err: unknown) => this.appFailed(err));
      return;
    }
    const listener = handler.listener;
    enterApp(() => listener(req, res)).then(undefined, (err: unknown) => this.appFailed(err));
  }

  /**
   * Apps read the client from the socket (Express `req.ip`, Koa `ctx.ip`, Fastify `request.ip`,
   * `socket.encrypted` for the scheme), which is the proxy's. As over SCGI, the socket carries the
   * client as its cached peer name while this request runs; HTTP/1.1 runs one request at a time
   * per connection (front ends never pipeline), and the next request sets its own or puts the
   * real peer back.
   */
  private presentClient(): void {
    const socket = this.socket;
    const client = this.client;
    if (client.forwarded) {
      const address = client.address;
      socket._peername = address === undefined ? socket[kPeer] : peerOf(address, undefined);
      socket.encrypted = client.https;
    } else if (socket._peername !== socket[kPeer] && socket[kPeer] !== undefined) {
      socket._peername = socket[kPeer];
      socket.encrypted = false;
    }
  }

  private abortSignal(): AbortSignal {
    const controller = new AbortController();
    this.res.once('close', () => {
      if (this.outcome !== Outcome.ANSWERED) controller.abort();
    });
    return controller.signal;
  }

  // ── endings ──────────────────────────────────────────────────────────────────────────────

  responseFinished(): void {
    if (this.phase !== Phase.DONE) this.finish(this.res.statusCode, Outcome.ANSWERED);
  }

  /** The connection closed before the response was complete: the front end gave up. */
  responseClosed(): void {
    if (this.phase === Phase.DONE) return;
    this.finish(CLIENT_CLOSED_STATUS, Outcome.ABORTED);
  }

  answer(status: number, body: string, outcome: Outcome, extraHeaders = ''): void {
    if (this.phase === Phase.DONE) return;
    this.finish(status, outcome);
    const res = this.res;
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = status;
    for (const line of extraHeaders.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) res.setHeader(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    // The app may still be running with this request (500, 504), or its body was refused unread
    // (413): the connection is not reused.
    if (outcome !== Outcome.REJECTED) res.shouldKeepAlive = false;
    res.end(body);
    sealResponse(res);
  }

  /** Refused before the app saw it (a Content-Length over maxBodyBytes): a bad request, not one of the app's. */
  refuse(err: DragonError): void {
    if (this.phase === Phase.DONE) return;
    this.host.logBadRequest(err.code, { peer: this.peer() }, `bad request from ${this.peer()}: ${err.message}`);
    this.phase = Phase.HEAD;
    this.answer(err.statusCode, `${err.message}\n`, Outcome.ANSWERED);
  }

  appFailed(err: unknown): void {
    if (this.phase === Phase.DONE) return;
    this.host.logAppError(this, err);
    if (!this.res.headersSent) this.answer(500, 'Internal Server Error\n', Outcome.APP_ERROR);
    else {
      this.finish(this.res.statusCode, Outcome.APP_ERROR);
      this.cut();
    }
  }

  cutByDrain(): void {
    if (this.phase === Phase.DONE) return;
    if (!this.res.headersSent) {
      const outcome = this.phase === Phase.QUEUED ? Outcome.REJECTED : Outcome.TIMEOUT;
      this.res.shouldKeepAlive = false;
      this.answer(503, 'Service Unavailable: the server is stopping\n', outcome, 'Retry-After: 1\r\n');
    } else {
      this.finish(this.res.statusCode, Outcome.TIMEOUT);
      this.cut();
    }
  }

  /** The server began draining: this response is the connection's last. */
  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
  }

  sweep(now: number, limits: ScgiLimits): void {
    if (this.phase !== Phase.RUNNING) return;
    const timeout = this.host.requestTimeoutMs;
    if (timeout > 0 && now - this.admittedAt > timeout) {
      this.failWith(new errors.DOW_ERR_REQUEST_TIMEOUT(this.host.name, timeout), 504, 'Gateway Timeout\n');
      return;
    }
    const req = this.req;
    if (req.complete) return;
    const read = this.socket.bytesRead;
    if (read - (this.socket[kReadMark] ?? 0) > limits.maxBodyBytes + limits.maxHeaderBytes) {
      // A chunked body has no length to refuse up front (listener checks Content-Length).
      this.failWith(new errors.DOW_ERR_BODY_TOO_LARGE(read - (this.socket[kReadMark] ?? 0), limits.maxBodyBytes), 413, 'Content Too Large\n');
    } else if (read !== this.seenBytesRead) {
      this.seenBytesRead = read;
      this.lastBodyAt = now;
    } else if (req.readableLength === 0 && now - Math.max(this.lastBodyAt, this.admittedAt) > limits.bodyIdleTimeoutMs) {
      // Only while the app waits for bytes (nothing buffered): an app that does not read its body
      // stalls the socket itself, which is not the client's doing.
      this.failWith(new errors.DOW_ERR_BODY_TIMEOUT(limits.bodyIdleTimeoutMs), 408, 'Request Timeout\n');
    }
  }

  /** A timeout or a limit hit while the app runs: our answer if nothing was sent, else a cut. */
  private failWith(err: DragonError, status: number, body: string): void {
    this.host.log.warn({ peer: this.peer(), code: err.code }, err.message);
    // The request is left as it is: destroying an incomplete IncomingMessage destroys its socket,
    // and with it this answer. Closing the connection after the answer aborts it for the app.
    if (!this.res.headersSent) this.answer(status, body, Outcome.TIMEOUT);
    else {
      this.finish(this.res.statusCode, Outcome.TIMEOUT);
      this.cut();
    }
  }

  /**
   * Ends a response that already started by closing its connection: a chunked or sized body then
   * arrives incomplete, which the front end reports as an upstream error instead of passing on a
   * truncated answer as whole.
   */
  private cut(): void {
    this.res.destroy();
  }

  peer(): string {
    return connectionPeer(this.socket);
  }

  private finish(status: number, outcome: Outcome): void {
    const wasPhase = this.phase;
    this.phase = Phase.DONE;
    this.status = status;
    this.outcome = outcome;
    this.listener.registry.delete(this);
    this.host.finished(this, wasPhase, status, outcome);
    // The next request on this connection counts its bytes from here.
    this.socket[kReadMark] = this.socket.bytesRead;
    this.socket[kWriteMark] = this.socket.bytesWritten;
  }
}

const kExchange = Symbol('dragon-on-wheels.httpExchange');
type ServerResponseWithExchange = ServerResponse & { [kExchange]?: HttpExchange };

function onResponseFinish(this: ServerResponse): void {
  (this as ServerResponseWithExchange)[kExchange]?.responseFinished();
}

function onResponseClose(this: ServerResponse): void {
  (this as ServerResponseWithExchange)[kExchange]?.responseClosed();
}

/**
 * After an answer of ours (504, 500) the app may still be running and write to its response, as
 * it would over SCGI: its writes are dropped instead of throwing ERR_HTTP_HEADERS_SENT or
 * emitting a 'write after end' error nobody listens for.
 */
function sealResponse(res: ServerResponse): void {
  const sealed = res as unknown as Record<string, unknown>;
  const self = (): ServerResponse => res;
  sealed.setHeader = self;
  sealed.appendHeader = self;
  sealed.removeHeader = noop;
  sealed.writeHead = self;
  sealed.flushHeaders = noop;
  sealed.write = (...args: unknown[]): boolean => {
    callLast(args);
    return true;
  };
  sealed.end = (...args: unknown[]): ServerResponse => {
    callLast(args);
    return res;
  };
}

function noop(): void {}

function callLast(args: unknown[]): void {
  const last = args[args.length - 1];
  if (typeof last === 'function') queueMicrotask(() => (last as () => void)());
}

/** The CGI variables an SCGI front end would have sent, for code written against `req.scgi.env`. */
function cgiEnvOf(exchange: HttpExchange): Record<string, string> {
  const { req, client, target } = exchange;
  const uri = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const query = uri.indexOf('?');
  const env: Record<string, string> = {
    REQUEST_METHOD: target.method,
    REQUEST_URI: uri,
    QUERY_STRING: query === -1 ? '' : uri.slice(query + 1),
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REMOTE_ADDR: client.address ?? '',
  };
  if (client.https) env.HTTPS = 'on';
  if (target.mount !== '') env.SCRIPT_NAME = target.mount;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toUpperCase().replaceAll('-', '_');
    const key = name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH' ? name : `HTTP_${name}`;
    const previous = env[key];
    env[key] = previous === undefined ? (raw[i + 1] as string) : joinHeaderValues(key, previous, raw[i + 1] as string);
  }
  return env;
}
