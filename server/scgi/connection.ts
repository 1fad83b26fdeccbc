/**
 * @module connection
 * The I/O shell around one SCGI connection: socket bytes go into the pure parser, the parsed
 * request goes to the app host (limiter, then adapter), and the connection closes when the
 * response ends. SCGI carries exactly one request per connection, so connection == request.
 *
 *   HEAD ──headers──▶ QUEUED ──admitted──▶ RUNNING ──response ends / client gone / timeout──▶ DONE
 *     └──────────────── malformed, 503, 408 ──────────────────────────────────────────────────▶ DONE
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errors, isDragonError, type DragonError } from '../../shared/errors.js';
import { Outcome } from '../../shared/timing-row.js';
import type { ScgiRequestInfo } from '../adapters/scgi-request-info.js';
import { resolveTarget, type RequestTarget } from '../adapters/request-target.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { AppHost } from '../host/app-host.js';
import { runFetchHandler } from '../adapters/fetch/fetch-adapter.js';
import { runNodeListener } from '../adapters/node/node-adapter.js';
import type { AccessFields, HostedRequest } from '../host/hosted-request.js';
import { Phase, Unserved, type Ending } from '../host/request-phase.js';
import type { ScgiLimits } from '../protocol/limits.js';
import type { BodySink } from '../adapters/body-sink.js';
import type { Exchange } from '../adapters/exchange.js';
import { describePeer } from '../listen/peer-name.js';
import { RequestInfo } from '../adapters/request-info.js';
import { templateOf } from '../adapters/node/node-route.js';
import type { ScgiEnv } from '../protocol/header-block.js';
import { httpResponse, simpleResponse } from '../protocol/response-head.js';
import { ScgiParser, type ScgiParserHandler } from '../protocol/scgi-parser.js';
import { checkHttpTokens } from '../protocol/http-tokens.js';
import { ANSWERS, CLIENT_CLOSED_STATUS, answerRequest, drainEnding, endRequest, type Answer } from '../host/request-end.js';

/** A body that arrives before the app runs is held in memory up to this, then read on demand. */
const PENDING_BODY_MAX_BYTES = 64 * 1024;

export class ScgiConnection implements ScgiParserHandler, Exchange, HostedRequest {
  phase = Phase.HEAD;
  readonly acceptedAt = performance.now();
  readonly startMs = Date.now();
  env: ScgiEnv = EMPTY_ENV;
  target: RequestTarget = EMPTY_TARGET;
  contentLength = 0;
  queuedAt = 0;
  inQueue = false;
  admittedAt = 0;
  lastBodyAt = 0;
  bodyEnded = false;
  /** Any response byte was written: from then on errors cut the connection instead of answering. */
  responseStarted = false;
  closed = false;
  status = 0;
  outcome: Ending | null = null;
  private readonly parser: ScgiParser;
  private pendingBody: Buffer[] | null = null;
  private pendingBodyBytes = 0;
  private sink: BodySink | null = null;
  private response: ServerResponse | null = null;
  private infoCache: RequestInfo | null = null;
  /** Set once the app answered before reading its whole body: the rest is read and dropped. */
  private discardTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: Socket,
    readonly host: AppHost,
    /** The server's live connections, for draining on shutdown and the timeout sweep. */
    private readonly registry: Set<HostedRequest>,
  ) {
    registry.add(this);
    this.parser = new ScgiParser(this, host.limits);
  }

  get bytesIn(): number {
    return this.socket.bytesRead;
  }

  get bytesOut(): number {
    return this.socket.bytesWritten;
  }

  accessFields(): AccessFields {
    const env = this.env;
    return {
      uri: env.REQUEST_URI || this.target.url,
      protocol: env.SERVER_PROTOCOL || 'HTTP/1.1',
      remoteAddr: env.REMOTE_ADDR ?? this.socket.remoteAddress ?? '',
      referer: env.HTTP_REFERER ?? '',
      userAgent: env.HTTP_USER_AGENT ?? '',
    };
  }

  run(handler: AppHandler, appName: string): void {
    if (handler.type === 'node') runNodeListener(handler.listener, this);
    else runFetchHandler(handler.handler, this, appName);
  }

  routeTemplate(): string | null {
    return templateOf(this.infoCache, this.response?.req ?? null, this.target.mount);
  }

  sweep(now: number, limits: ScgiLimits): void {
    if (this.phase === Phase.HEAD) {
      if (now - this.acceptedAt > limits.headerTimeoutMs) this.protocolError(new errors.DOW_ERR_HEADER_TIMEOUT(limits.headerTimeoutMs));
    } else if (this.phase === Phase.RUNNING) {
      const timeout = this.host.requestTimeoutMs;
      if (timeout > 0 && now - this.admittedAt > timeout) {
        this.outOfTime(new errors.DOW_ERR_REQUEST_TIMEOUT(this.host.name, timeout), ANSWERS.requestTimeout);
        this.response?.destroy();
      } else if (!this.bodyEnded && this.contentLength > 0 && now - Math.max(this.lastBodyAt, this.admittedAt) > limits.bodyIdleTimeoutMs) {
        // The body stopped arriving while the app waited for it: its read fails with the reason.
        this.outOfTime(new errors.DOW_ERR_BODY_TIMEOUT(limits.bodyIdleTimeoutMs), ANSWERS.bodyTimeout, true);
      }
    }
  }

  get info(): ScgiRequestInfo {
    this.infoCache ??= new RequestInfo(this.host, this.target.mount, this.env);
    return this.infoCache;
  }

  // ── socket side ──────────────────────────────────────────────────────────────────────────

  onData(chunk: Buffer): void {
    try {
      this.parser.execute(chunk);
    } catch (err) {
      this.protocolError(err);
    }
  }

  /** The native I/O core read and parsed the head (server/native/native-listener.ts). */
  onParsedHead(env: ScgiEnv, contentLength: number): void {
    // Answered already (408 while the head was still arriving): the rest of the head is late.
    if (this.phase !== Phase.HEAD) return;
    try {
      this.parser.headParsed(contentLength);
      this.onHeaders(env, contentLength);
      if (contentLength === 0) this.onBodyEnd();
    } catch (err) {
      this.protocolError(err);
    }
  }

  /**
   * The peer half-closed. Before the request is complete the request can never complete. After
   * it, nginx, lighttpd and Apache send a FIN only when they give up on the request (their
   * client left, or their own timeout): none half-closes after sending (measured, see the table
   * in docs/frontends.md). So the app's request is aborted at once and its slot freed, instead of
   * running on until it writes into a dead socket. `halfClose: 'answer'` serves raw SCGI clients
   * that half-close after sending and still read the answer.
   */
  onEnd(): void {
    if (this.phase === Phase.DONE) return;
    if (this.parser.done) {
      if (this.host.halfCloseAborts) this.socket.destroy();
      return;
    }
    if (!this.parser.headersDone) {
      if (this.parser.started) return this.protocolError(new errors.DOW_ERR_HEADER_FORMAT('connection closed before the header block ended'));
      // No byte at all: a TCP health check, a probe of the socket, a front end that gave up
      // before sending. Nothing was asked, so it is no bad request (not counted, not a WARN).
      this.host.log.debug({ peer: this.peer() }, `connection from ${this.peer()} closed without sending a request`);
    }
    // Else the body can never complete: the request is dead even if the peer still reads. nginx
    // closes the upstream connection this way when its client goes away mid-upload.
    this.clientLeft();
    this.socket.destroy();
  }

  onClose(): void {
    this.closed = true;
    if (this.discardTimer !== null) clearTimeout(this.discardTimer);
    this.registry.delete(this);
    if (this.phase !== Phase.DONE) this.clientLeft();
  }

  /** The peer left before the response ended: the body can never complete, nothing can be sent. */
  private clientLeft(): void {
    this.sink?.abort(new errors.DOW_ERR_TRUNCATED(this.contentLength - this.parser.remainingBody, this.contentLength));
    this.finish(CLIENT_CLOSED_STATUS, this.phase === Phase.HEAD ? Unserved.LEFT : Outcome.ABORTED);
  }

  // ── parser side ──────────────────────────────────────────────────────────────────────────

  onHeaders(env: ScgiEnv, contentLength: number): void {
    try {
      checkHttpTokens(env);
    } catch (err) {
      // Framing was fine, so the body (if any) is read and dropped after the 400, as for an app's early answer.
      this.refuse(err as DragonError);
      return;
    }
    this.env = env;
    this.contentLength = contentLength;
    this.target = resolveTarget(env, this.host.mount);
    if (env.REQUEST_METHOD === undefined && env.REQUEST_URI === undefined) {
      // nginx sends only CONTENT_LENGTH, SCGI and the HTTP_* headers unless told the rest.
      this.host.logBadRequest('DOW_NO_CGI_VARIABLES', { peer: this.peer() }, `request from ${this.peer()} has no REQUEST_METHOD or REQUEST_URI (served as GET ${this.target.url}): is \`include scgi_params;\` missing from the nginx location (or the front end's equivalent)?`);
    }
    if (this.host.mount !== '' && this.target.mount === '' && this.host.log.isLevelEnabled('debug')) {
      // Served unstripped: usually a front-end location wider than the mount.
      this.host.log.debug({ uri: env.REQUEST_URI }, `request outside the mount ${this.host.mount}: ${env.REQUEST_URI ?? ''}`);
    }
    this.host.admit(this);
  }

  onBody(chunk: Buffer): void {
    if (this.discardTimer !== null) {
      this.discardTimer.refresh();
      return;
    }
    this.lastBodyAt = performance.now();
    if (this.sink !== null) {
      if (!this.sink.push(chunk)) this.socket.pause();
      return;
    }
    (this.pendingBody ??= []).push(chunk);
    this.pendingBodyBytes += chunk.length;
    // Before the app runs, hold a small body whole (so the FIN of a client that leaves while the
    // request is queued is still read, and the request leaves the queue); past that, the rest
    // waits in the kernel.
    if (this.pendingBodyBytes >= PENDING_BODY_MAX_BYTES) this.socket.pause();
  }

  onBodyEnd(): void {
    this.bodyEnded = true;
    if (this.discardTimer !== null) {
      clearTimeout(this.discardTimer);
      this.socket.destroySoon();
      return;
    }
    if (this.sink !== null) this.sink.end();
    // Only a FIN can follow now: keep reading so a client that leaves while queued is noticed.
    else this.socket.resume();
  }

  // ── app side (Exchange) ──────────────────────────────────────────────────────────────────

  takeBody(sink: BodySink): void {
    this.sink = sink;
    const pending = this.pendingBody;
    this.pendingBody = null;
    let more = true;
    if (pending !== null) for (const chunk of pending) more = sink.push(chunk);
    this.pendingBodyBytes = 0;
    if (this.bodyEnded) sink.end();
    else if (more) this.socket.resume();
    else this.socket.pause();
  }

  onResponse(res: ServerResponse): void {
    this.response = res;
  }

  headSent(status: number): void {
    this.responseStarted = true;
    this.status = status;
  }

  responseFinished(status: number): void {
    this.responseStarted = true;
    if (this.phase === Phase.DONE) return;
    this.finish(status, Outcome.ANSWERED);
    if (!this.bodyEnded && this.contentLength > 0 && !this.closed) return this.discardRestOfBody();
    // destroySoon ends our side and destroys once the write queue drains: no half-open linger.
    // (Closing at once when nothing is pending measured no cheaper: close() then sends the FIN.)
    this.socket.destroySoon();
  }

  /**
   * The app answered without reading its whole body (a 401 to an upload, a route that ignores
   * it). Closing now would reset the connection while the front end is still sending, and nginx
   * would turn the complete answer into a 502 ("writev() failed (32: Broken pipe) while sending
   * request to upstream"). As Node's http server does, the rest is read and dropped; our side is
   * ended at once (the answer is complete), and a front end that stops sending for
   * bodyIdleTimeout is cut.
   */
  private discardRestOfBody(): void {
    this.sink = null;
    this.pendingBody = null;
    this.discardTimer = setTimeout(() => this.socket.destroy(), this.host.limits.bodyIdleTimeoutMs);
    this.discardTimer.unref();
    this.socket.end();
    this.socket.resume();
  }

  appFailed(err: unknown): void {
    if (this.phase === Phase.DONE) return;
    this.host.logAppError(this, err);
    endRequest(this, Outcome.APP_ERROR, ANSWERS.appError);
  }

  /** Refused before the app saw it (a header HTTP cannot carry) or as it ran (the fetch adapter's). */
  refuse(err: DragonError): void {
    if (this.phase === Phase.DONE) return;
    this.host.logBadRequest(err.code, { peer: this.peer() }, `bad request from ${this.peer()}: ${err.message}`);
    answerRequest(this, this.servedOr(Unserved.MALFORMED), { status: err.statusCode, body: `${err.message}\n` });
  }

  // ── endings of our own (request-end.ts decides between an answer and a cut) ─────────────

  /** A timeout while the app runs: logged, then our answer if nothing was sent, else a cut. */
  private outOfTime(err: DragonError, answer: Answer, bodyStalled = false): void {
    this.host.log.warn({ peer: this.peer(), code: err.code }, err.message);
    if (bodyStalled) this.sink?.abort(err);
    endRequest(this, Outcome.TIMEOUT, answer);
  }

  /**
   * drainTimeout ran out while stopping. Every request is finished here, synchronously, so its
   * timing row is recorded before the store is flushed and closed; a socket's 'close' would come
   * too late for that. A request not yet complete was never the app's: it is only closed.
   */
  cutByDrain(): void {
    if (this.phase === Phase.DONE || this.phase === Phase.HEAD) {
      this.socket.destroy();
      return;
    }
    endRequest(this, drainEnding(this.phase), ANSWERS.stopping);
    this.response?.destroy();
  }

  /** Malformed input, or too slow a client: answer if we still can, log the peer and the reason. */
  protocolError(err: unknown): void {
    if (this.phase === Phase.DONE) return;
    const known = isDragonError(err) ? err : null;
    const status = known?.statusCode ?? 400;
    this.host.logBadRequest(known?.code ?? 'UNKNOWN', { peer: this.peer() }, `bad SCGI request from ${this.peer()}: ${known ? known.message : String(err)}`);
    const ending = this.servedOr(Unserved.MALFORMED);
    if (this.parser.headersDone || this.responseStarted) {
      this.finish(status, ending);
      this.socket.destroy();
    } else if (known?.code === 'DOW_ERR_HTTP_ON_SCGI_PORT') {
      // The only answer in HTTP form: the peer is an HTTP client, not a front end.
      this.finish(status, ending);
      this.responseStarted = true;
      if (!this.closed) this.socket.end(httpResponse(status, `${known.message}\n`), 'latin1');
    } else {
      answerRequest(this, ending, { status, body: `${known?.message ?? 'Bad Request'}\n` });
    }
  }

  /** ANSWERED once the host has the request (queued or running: one of the app's), else `unserved`. */
  private servedOr(unserved: Ending): Ending {
    return this.phase === Phase.HEAD ? unserved : Outcome.ANSWERED;
  }

  // ── the SCGI primitives of request-end.ts ──────────────────────────────────────────────────

  isHeadSent(): boolean {
    return this.responseStarted || (this.response !== null && this.response.headersSent);
  }

  sentStatus(): number {
    return this.response?.statusCode ?? this.status;
  }

  /**
   * Writes our response and ends the connection. A body still arriving (or held back in the kernel
   * while the request waited or the app did not read it) is read and dropped as after an app's
   * early answer: else the socket stays paused, the front end's FIN is never read, and the
   * connection outlives its request for good.
   */
  sendAnswer(answer: Answer): void {
    const sink = this.sink;
    if (!this.closed) {
      this.responseStarted = true;
      const response = simpleResponse(answer.status, answer.body, answer.extraHeaders ?? '');
      if (this.parser.headersDone && !this.bodyEnded && this.contentLength > 0) {
        this.socket.write(response, 'latin1');
        this.discardRestOfBody();
      } else {
        this.socket.end(response, 'latin1');
      }
    }
    sink?.abort(new Error('request ended by the server'));
  }

  /**
   * Ends a response that already started, with a TCP reset: the body is close-delimited, so a
   * plain close would look like a complete response to the front end. A reset makes nginx log an
   * upstream error and abort the client's response instead of ending it cleanly.
   */
  cut(): void {
    if (this.socket.destroyed) return;
    try {
      this.socket.resetAndDestroy();
    } catch {
      // Unix sockets have no reset; a close is all there is.
      this.socket.destroy();
    }
  }

  peer(): string {
    return describePeer(this.socket.remoteAddress, this.socket.remotePort);
  }

  finish(status: number, ending: Ending): void {
    const wasPhase = this.phase;
    this.phase = Phase.DONE;
    this.status = status;
    this.outcome = ending;
    this.host.finished(this, wasPhase, status, ending);
  }
}

const EMPTY_ENV: ScgiEnv = Object.freeze(Object.create(null) as ScgiEnv);
const EMPTY_TARGET: RequestTarget = Object.freeze({ method: '', url: '', mount: '', path: '' });
