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
import type { AppHandler } from '../adapters/app-handler.js';
import type { AppHost } from '../host/app-host.js';
import type { AccessFields, HostedRequest } from '../host/hosted-request.js';
import { Phase, Unserved, type Ending } from '../host/request-phase.js';
import { ANSWERS, CLIENT_CLOSED_STATUS, answerRequest, drainEnding, endRequest, type Answer } from '../host/request-end.js';
import { kHttpPeer, kHttpReadMark, kHttpTrust, kHttpWriteMark, kResponseExchange } from '../core/symbols.js';
import type { ScgiLimits } from '../protocol/limits.js';
import { describePeer, peerOf, type PeerName } from '../listen/peer-name.js';
import { RequestInfo } from '../adapters/request-info.js';
import { templateOf } from '../adapters/node/node-route.js';
import { cgiEnvOf } from './cgi-env.js';
import { sealResponse } from './sealed-response.js';
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

/**
 * The connection's real peer for log lines: the front end, even after a request presented its
 * forwarded client on the socket (kHttpPeer keeps the real one from the first request on).
 */
export function connectionPeer(socket: Socket): string {
  const peer = (socket as TrackedSocket)[kHttpPeer];
  return peer === undefined ? describePeer(socket.remoteAddress, socket.remotePort) : describePeer(peer.address, peer.port);
}

/** Per connection: its real peer, its trust answer, the bytes earlier requests accounted for. */
type TrackedSocket = Socket & {
  [kHttpPeer]?: PeerName;
  [kHttpTrust]?: TrustFunction;
  [kHttpReadMark]?: number;
  [kHttpWriteMark]?: number;
  _peername?: PeerName;
  encrypted?: boolean;
};

/**
 * Apps read the client from the socket (Express `req.ip`, Koa `ctx.ip`, Fastify `request.ip`,
 * `socket.encrypted` for the scheme), which is the proxy's. As over SCGI, the socket carries the
 * client as its cached peer name while a request runs; HTTP/1.1 runs one request at a time per
 * connection (front ends never pipeline), and the next request sets its own or puts the real peer
 * back. An upgraded connection keeps the client of its upgrade request for good.
 */
export function presentClient(socket: Socket, client: ClientIdentity): void {
  const tracked = socket as TrackedSocket;
  if (client.forwarded) {
    const address = client.address;
    tracked._peername = address === undefined ? tracked[kHttpPeer] : peerOf(address, undefined);
    tracked.encrypted = client.https;
  } else if (tracked._peername !== tracked[kHttpPeer] && tracked[kHttpPeer] !== undefined) {
    tracked._peername = tracked[kHttpPeer];
    tracked.encrypted = false;
  }
}

/** The client of a request on this socket: its forwarded one if the peer is trusted. */
export function clientOf(socket: Socket, req: IncomingMessage, trust: TrustFunction): ClientIdentity {
  const tracked = socket as TrackedSocket;
  const peer = (tracked[kHttpPeer] ??= { address: socket.remoteAddress, port: socket.remotePort, family: socket.remoteFamily });
  const trusted = (tracked[kHttpTrust] ??= trustForPeer(trust, peer.address));
  return identifyClient(peer.address, req.headers as Record<string, string | undefined>, trusted);
}

/** As over SCGI: what Express gives a sub-app mounted with app.use(prefix, app). */
export function applyMount(req: IncomingMessage, target: RequestTarget): void {
  if (target.mount === '') return;
  const mounted = req as IncomingMessage & { baseUrl?: string; originalUrl?: string };
  mounted.originalUrl = req.url;
  mounted.baseUrl = target.mount;
  req.url = target.url;
}

export function accessFieldsOf(req: IncomingMessage, client: ClientIdentity): AccessFields {
  const headers = req.headers;
  return {
    uri: req.url ?? '/',
    protocol: `HTTP/${req.httpVersion}`,
    remoteAddr: client.address ?? '',
    referer: headers.referer ?? '',
    userAgent: headers['user-agent'] ?? '',
  };
}

export class HttpExchange implements HostedRequest {
  phase = Phase.QUEUED;
  readonly acceptedAt = performance.now();
  readonly startMs = Date.now();
  queuedAt = 0;
  inQueue = false;
  admittedAt = 0;
  status = 0;
  outcome: Ending | null = null;
  readonly target: RequestTarget;
  readonly client: ClientIdentity;
  private readonly socket: TrackedSocket;
  private readonly host: AppHost;
  /** Socket bytes read when the sweep last looked, and when that number last moved. */
  private seenBytesRead: number;
  private lastBodyAt = 0;
  private infoCache: RequestInfo | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly listener: HttpListenerState,
  ) {
    this.host = listener.host;
    this.socket = req.socket as TrackedSocket;
    this.seenBytesRead = this.socket.bytesRead;
    this.client = clientOf(this.socket, req, listener.trust);
    const path = req.url ?? '/';
    this.target = resolveTarget({ REQUEST_METHOD: req.method ?? 'GET', REQUEST_URI: path }, this.host.mount);
    if (listener.draining) res.shouldKeepAlive = false;
    listener.registry.add(this);
    res.on('finish', onResponseFinish);
    res.on('close', onResponseClose);
    (res as ServerResponseWithExchange)[kResponseExchange] = this;
  }

  get bytesIn(): number {
    return this.socket.bytesRead - (this.socket[kHttpReadMark] ?? 0);
  }

  get bytesOut(): number {
    return this.socket.bytesWritten - (this.socket[kHttpWriteMark] ?? 0);
  }

  accessFields(): AccessFields {
    return accessFieldsOf(this.req, this.client);
  }

  /** `req.scgi`: the same surface as over SCGI, with a CGI-style env made on first use. */
  get info(): ScgiRequestInfo {
    this.infoCache ??= new RequestInfo(this.host, this.target.mount, () => cgiEnvOf(this.req, this.client, this.target));
    return this.infoCache;
  }

  routeTemplate(): string | null {
    return templateOf(this.infoCache, this.req, this.target.mount);
  }

  run(handler: AppHandler, appName: string): void {
    const { req, res } = this;
    presentClient(this.socket, this.client);
    req.scgi = this.info;
    const target = this.target;
    applyMount(req, target);
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

  /** Refused before the app saw it (a Content-Length over maxBodyBytes): a bad request, not one of the app's. */
  refuse(err: DragonError): void {
    if (this.phase === Phase.DONE) return;
    this.host.logBadRequest(err.code, { peer: this.peer() }, `bad request from ${this.peer()}: ${err.message}`);
    answerRequest(this, Unserved.MALFORMED, { status: err.statusCode, body: `${err.message}\n` });
  }

  appFailed(err: unknown): void {
    if (this.phase === Phase.DONE) return;
    this.host.logAppError(this, err);
    endRequest(this, Outcome.APP_ERROR, ANSWERS.appError);
  }

  cutByDrain(): void {
    if (this.phase === Phase.DONE) return;
    this.closeAfterResponse();
    endRequest(this, drainEnding(this.phase), ANSWERS.stopping);
  }

  /** The server began draining: this response is the connection's last. */
  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
  }

  sweep(now: number, limits: ScgiLimits): void {
    if (this.phase !== Phase.RUNNING) return;
    const timeout = this.host.requestTimeoutMs;
    if (timeout > 0 && now - this.admittedAt > timeout) {
      this.failWith(new errors.DOW_ERR_REQUEST_TIMEOUT(this.host.name, timeout), ANSWERS.requestTimeout);
      return;
    }
    const req = this.req;
    if (req.complete) return;
    const read = this.socket.bytesRead;
    if (read - (this.socket[kHttpReadMark] ?? 0) > limits.maxBodyBytes + limits.maxHeaderBytes) {
      // A chunked body has no length to refuse up front (listener checks Content-Length).
      this.failWith(new errors.DOW_ERR_BODY_TOO_LARGE(read - (this.socket[kHttpReadMark] ?? 0), limits.maxBodyBytes), ANSWERS.bodyTooLarge);
    } else if (read !== this.seenBytesRead) {
      this.seenBytesRead = read;
      this.lastBodyAt = now;
    } else if (req.readableLength === 0 && now - Math.max(this.lastBodyAt, this.admittedAt) > limits.bodyIdleTimeoutMs) {
      // Only while the app waits for bytes (nothing buffered): an app that does not read its body
      // stalls the socket itself, which is not the client's doing.
      this.failWith(new errors.DOW_ERR_BODY_TIMEOUT(limits.bodyIdleTimeoutMs), ANSWERS.bodyTimeout);
    }
  }

  /** A timeout or a limit hit while the app runs: our answer if nothing was sent, else a cut. */
  private failWith(err: DragonError, answer: Answer): void {
    this.host.log.warn({ peer: this.peer(), code: err.code }, err.message);
    // The request is left as it is: destroying an incomplete IncomingMessage destroys its socket,
    // and with it this answer. Closing the connection after the answer aborts it for the app.
    endRequest(this, Outcome.TIMEOUT, answer);
  }

  // ── the HTTP primitives of request-end.ts ──────────────────────────────────────────────────

  isHeadSent(): boolean {
    return this.res.headersSent;
  }

  sentStatus(): number {
    return this.res.statusCode;
  }

  sendAnswer(answer: Answer, ending: Ending): void {
    const res = this.res;
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = answer.status;
    for (const line of (answer.extraHeaders ?? '').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) res.setHeader(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(answer.body));
    // The app may still be running with this request (500, 504), or its body was refused unread
    // (413): the connection is not reused.
    if (ending !== Outcome.REJECTED) res.shouldKeepAlive = false;
    res.end(answer.body);
    sealResponse(res);
  }

  /**
   * Ends a response that already started by closing its connection: a chunked or sized body then
   * arrives incomplete, which the front end reports as an upstream error instead of passing on a
   * truncated answer as whole.
   */
  cut(): void {
    this.res.destroy();
  }

  peer(): string {
    return connectionPeer(this.socket);
  }

  finish(status: number, ending: Ending): void {
    const wasPhase = this.phase;
    this.phase = Phase.DONE;
    this.status = status;
    this.outcome = ending;
    this.listener.registry.delete(this);
    this.host.finished(this, wasPhase, status, ending);
    // The next request on this connection counts its bytes from here.
    this.socket[kHttpReadMark] = this.socket.bytesRead;
    this.socket[kHttpWriteMark] = this.socket.bytesWritten;
  }
}

type ServerResponseWithExchange = ServerResponse & { [kResponseExchange]?: HttpExchange };

function onResponseFinish(this: ServerResponse): void {
  (this as ServerResponseWithExchange)[kResponseExchange]?.responseFinished();
}

function onResponseClose(this: ServerResponse): void {
  (this as ServerResponseWithExchange)[kResponseExchange]?.responseClosed();
}
