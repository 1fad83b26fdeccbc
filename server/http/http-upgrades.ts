/**
 * @module http-upgrades
 * Requests with an `Upgrade` header (WebSockets) on a `protocol: 'http'` app: node:http parsed the
 * head (the same header limits and timeout as any request) and hands over the socket; here it is
 * checked against the cap, given the trusted client and the mount, handed to the app's upgrade
 * listener, and tracked until it closes, holding no thread slot.
 *
 *   'upgrade' ──open < cap──▶ app's upgrade(req, socket, head) ──socket 'close'──▶ row (101, bytes)
 *       └──open >= cap──▶ 503, closed (a row: 503, rejected)
 *   worker stops ──drain deadline──▶ close frame (1001, 1012 or 1011), end; destroyed after a grace
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errors } from '../../shared/errors.js';
import { Outcome } from '../../shared/timing-row.js';
import type { UpgradeListener } from '../adapters/app-handler.js';
import { enterApp } from '../adapters/enter-app.js';
import { RequestInfo } from '../adapters/request-info.js';
import { resolveTarget, type RequestTarget } from '../adapters/request-target.js';
import type { AppHost, SessionRecord } from '../host/app-host.js';
import type { AccessFields } from '../host/hosted-request.js';
import { kHttpReadMark, kHttpWriteMark } from '../core/symbols.js';
import { httpResponse } from '../protocol/response-head.js';
import { closeFrame, type CloseCode } from '../protocol/websocket-close.js';
import { cgiEnvOf } from './cgi-env.js';
import { accessFieldsOf, applyMount, clientOf, connectionPeer, presentClient } from './http-exchange.js';
import type { ClientIdentity, TrustFunction } from './trust-proxy.js';
import type { UpgradeCapacity } from './upgrade-capacity.js';

/** Upgraded connections an app holds at most, across its workers, unless it sets maxUpgrades. */
export const DEFAULT_MAX_UPGRADES = 10_000;
const STOPPING = 'Service Unavailable: the server is stopping\n';
/** After our close frame, how long the client has to answer with its own before the socket goes. */
const CLOSE_GRACE_MS = 500;
/** What the status sniff reads of the first bytes the app writes: `HTTP/1.1 101`. */
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})/;

type MarkedSocket = Socket & { [kHttpReadMark]?: number; [kHttpWriteMark]?: number };

/** One upgraded connection from its upgrade request to its close. */
class UpgradeSession implements SessionRecord {
  readonly acceptedAt = performance.now();
  readonly startMs = Date.now();
  readonly target: RequestTarget;
  readonly client: ClientIdentity;
  /** From the app's first write: 101 when it switched protocols, or its refusal (400, 401...). */
  status = 0;
  private readonly readMark: number;
  private readonly writeMark: number;
  /**
   * Taken now, so that a session does not keep its request alive for hours (the app keeps it if
   * it wants it): ~3 KiB less per idle WebSocket.
   */
  private readonly access: AccessFields;

  constructor(req: IncomingMessage, readonly socket: MarkedSocket, host: AppHost, trust: TrustFunction) {
    this.readMark = socket[kHttpReadMark] ?? 0;
    this.writeMark = socket[kHttpWriteMark] ?? 0;
    this.client = clientOf(socket, req, trust);
    this.target = resolveTarget({ REQUEST_METHOD: req.method ?? 'GET', REQUEST_URI: req.url ?? '/' }, host.mount);
    this.access = accessFieldsOf(req, this.client);
  }

  get bytesIn(): number {
    return this.socket.bytesRead - this.readMark;
  }

  get bytesOut(): number {
    return this.socket.bytesWritten - this.writeMark;
  }

  accessFields(): AccessFields {
    return this.access;
  }

  /**
   * The status line of the app's first write (or end), if it is one; both methods are put back at
   * once, so the connection's writes cost nothing more afterwards.
   */
  sniffStatus(): void {
    const socket = this.socket;
    const { write, end } = socket;
    const sniff = (method: (...args: unknown[]) => unknown) => (chunk: unknown, ...rest: unknown[]): unknown => {
      socket.write = write;
      socket.end = end;
      const head = typeof chunk === 'string' ? chunk.slice(0, 12) : Buffer.isBuffer(chunk) ? chunk.subarray(0, 12).toString('latin1') : '';
      this.status = Number(STATUS_LINE.exec(head)?.[1] ?? 0);
      return method.call(socket, chunk, ...rest);
    };
    socket.write = sniff(write as (...args: unknown[]) => unknown) as typeof write;
    socket.end = sniff(end as (...args: unknown[]) => unknown) as typeof end;
  }
}

export interface HttpUpgradesOptions {
  host: AppHost;
  upgrade: UpgradeListener;
  trust: TrustFunction;
  /** How many may be open at once: the app's cap in-process, a lease from the supervisor in a worker. */
  capacity: UpgradeCapacity;
}

export class HttpUpgrades {
  private readonly open = new Set<UpgradeSession>();
  private readonly host: AppHost;
  private emptied: Array<() => void> = [];
  /** Set by closeAll(): the drain is past its upgrades, and one accepted now would be left open. */
  private closing = false;
  /** Set by beginDrain(): this process takes no new one, and keeps no room for one. */
  private draining = false;

  constructor(private readonly options: HttpUpgradesOptions) {
    this.host = options.host;
  }

  /** node:http's 'upgrade' event: the socket is ours now, detached from node:http. */
  accept(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const host = this.host;
    const session = new UpgradeSession(req, socket, host, this.options.trust);
    // node:http took its own 'error' listener off at the upgrade: a reset on an idle WebSocket
    // whose app added none would throw, and take down every other connection of the worker.
    socket.on('error', ignoreError);
    if (this.closing) return this.refuse(session, STOPPING);
    if (this.open.size < this.options.capacity.held) return this.admit(session, req, head);
    // Nothing reads the socket while the supervisor is asked: the client's first frames wait.
    void this.roomAfterAsking().then((room) => {
      // The client left meanwhile: nothing to hand the app, and no 'close' to come for the count.
      if (socket.destroyed) this.host.recordSession(session, 499, Outcome.ABORTED);
      else if (this.closing) this.refuse(session, STOPPING);
      else if (room) this.admit(session, req, head);
      else this.refuseFull(session);
    });
  }

  /** Asks for more until one is free here, or none is granted (the app is at its cap). */
  private async roomAfterAsking(): Promise<boolean> {
    const capacity = this.options.capacity;
    for (;;) {
      const asked = capacity.more();
      if (asked === null) return false;
      // The same question's answer may serve several waiting upgrades, in turn.
      const granted = await asked;
      if (this.open.size < capacity.held) return true;
      if (granted === 0) return false;
    }
  }

  private refuseFull(session: UpgradeSession): void {
    const host = this.host;
    host.logRefusal(`${new errors.DOW_ERR_UPGRADES_FULL(host.name, this.open.size, this.options.capacity.max).message} from ${connectionPeer(session.socket)}`);
    this.refuse(session, 'Service Unavailable: too many upgraded connections, retry later\n');
  }

  private admit(session: UpgradeSession, req: IncomingMessage, head: Buffer): void {
    const host = this.host;
    const socket = session.socket;
    this.open.add(session);
    this.options.capacity.settle(this.open.size, this.draining);
    host.stats.upgrades++;
    host.stats.websockets++;
    socket.once('close', () => this.ended(session));
    presentClient(socket, session.client);
    req.scgi = new RequestInfo(host, session.target.mount, () => cgiEnvOf(req, session.client, session.target));
    applyMount(req, session.target);
    session.sniffStatus();
    const upgrade = this.options.upgrade;
    enterApp(() => upgrade(req, socket, head)).then(undefined, (err: unknown) => this.appFailed(session, err));
  }

  private refuse(session: UpgradeSession, body: string): void {
    const socket = session.socket;
    this.host.stats.upgradesRefused++;
    if (socket.writable) socket.end(httpResponse(503, body, 'Retry-After: 1\r\n'), 'latin1');
    else socket.destroy();
    this.host.recordSession(session, 503, Outcome.REJECTED);
  }

  private appFailed(session: UpgradeSession, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.host.log.error({ err: error, url: session.target.url, code: 'DOW_ERR_APP_THREW' }, new errors.DOW_ERR_APP_THREW(this.host.name, `upgrade: ${error.message}`).message);
    const socket = session.socket;
    // Nothing written yet: a plain HTTP answer; else the connection is the app's protocol now.
    if (session.status === 0 && socket.writable && session.bytesOut === 0) {
      session.status = 500;
      socket.end(httpResponse(500, `${STATUS_CODES[500]}\n`), 'latin1');
    } else socket.destroy();
  }

  private ended(session: UpgradeSession): void {
    if (!this.open.delete(session)) return;
    this.host.stats.websockets--;
    this.options.capacity.settle(this.open.size, this.draining);
    if (this.open.size === 0) for (const resolve of this.emptied.splice(0)) resolve();
    // No status line at all: the app took the socket and closed it without a word.
    const status = session.status === 0 ? 499 : session.status;
    this.host.recordSession(session, status, status === 499 ? Outcome.ABORTED : Outcome.ANSWERED);
  }

  /** The process drains: what its lease holds beyond the connections open goes back now. */
  beginDrain(): void {
    this.draining = true;
    this.options.capacity.settle(this.open.size, true);
  }

  /** Resolves once no upgraded connection is open (at once if none is). */
  whenEmpty(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptied.push(resolve));
  }

  /**
   * Tells every client still connected that the server goes (a WebSocket close frame: each write
   * of the app's library is a whole frame, so one of ours from this turn lands between frames), and
   * ends the connection; one that does not answer is destroyed after CLOSE_GRACE_MS. Resolves when
   * all are closed; returns how many there were.
   */
  async closeAll(code: CloseCode, reason: string): Promise<number> {
    this.closing = true;
    const sessions = [...this.open];
    for (const session of sessions) {
      const socket = session.socket;
      this.host.stats.websocketsClosed++;
      if (session.status === 101 && socket.writable) socket.end(closeFrame(code, reason));
      else socket.end();
    }
    if (sessions.length === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const allClosed = Promise.all(sessions.map((s) => (s.socket.closed ? undefined : new Promise((resolve) => s.socket.once('close', resolve)))));
    await Promise.race([allClosed, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const session of sessions) session.socket.destroy();
    return sessions.length;
  }
}

/** The socket's 'close' follows an error, and the session's row and figures are done there. */
function ignoreError(): void {}
