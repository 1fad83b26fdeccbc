/**
 * @module server
 * The runtime: a list of (listen address, app or stats) pairs, as the original's run-script had,
 * served until closed. Owns the listening sockets, the live connections, the timeout sweeper and
 * thread-limit changes; everything per request happens in connection.ts and app-host.ts.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import type { ReloadResult, RuntimeControl, RuntimeSnapshot, ScaleResult } from '../../shared/runtime-control.js';
import { MAX_THREADS } from '../../shared/runtime-control.js';
import { formatStats, STATS_ENCODING } from '../../shared/stats-format.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { createAccessLog, type AccessLogFormat } from '../logs/access-log.js';
import { AppHost } from '../host/app-host.js';
import { ScgiConnection } from '../scgi/connection.js';
import type { HostedRequest } from '../host/hosted-request.js';
import { Phase } from '../host/request-phase.js';
import { attachExchange, exchangeOf } from '../adapters/exchange.js';
import { parseListenAddress } from '../../shared/listen-address.js';
import { sweepBacklog, tcpPortOf } from './listen-address.js';
import type { ListenerSpec, OpenListener } from './listener.js';
import { listenNet } from './listen-net.js';
import { watchDescriptors } from './descriptor-watch.js';
import { DEFAULT_LIMITS, type ScgiLimits } from '../protocol/limits.js';
import { changeThreads, runtimeSnapshot } from '../host/runtime-summary.js';
import type { InFlight } from '../supervisor/ipc-protocol.js';
import { buildStatsFigures } from '../metrics/stats-report.js';
import { upLine } from './up-line.js';
import { VERSION } from '../core/version.js';
import type { HttpListener } from '../http/http-listener.js';
import { listenHttp } from '../http/listen-http.js';
import { chooseIo, defaultIoMode, type IoMode } from '../native/io-choice.js';
import { listenScgiNative } from '../native/listen-native.js';
import { CloseCode } from '../protocol/websocket-close.js';
import { routeOf } from '../host/route-fold.js';
import { RouteStats } from '../host/route-stats.js';

export interface ServerOptions {
  listeners: ListenerSpec[];
  limits?: Partial<ScgiLimits>;
  logger?: Logger;
  recorder?: TimingRecorder | null;
  /** One line per finished request on `logger` (log.access); absent or null: none. */
  accessLog?: AccessLogFormat | null;
  /** Keep each app's figures per route too, for the metrics listener's `route` label (metrics.routeLabel). */
  routeFigures?: boolean;
  /** Log "UP on <address>" for each listener (default true; the supervisor logs its own). */
  announce?: boolean;
}

const SWEEP_INTERVAL_MS = 100;
const HTTP_CLOSE_GRACE_MS = 1000;
/** How long a 503 written at the drain deadline gets to reach the kernel before the last close. */
const HTTP_LAST_ANSWER_MS = 200;
/**
 * A kept-alive connection left idle this long into a drain is closed, though the drain's deadline
 * (a reload's is max(drainTimeout, requestTimeout)) may be far: a front end with traffic reuses
 * its idle connections within milliseconds and gets `Connection: close` on them, while a quiet one
 * would keep an old worker alive, and its reload unfinished, until the deadline.
 */
const HTTP_IDLE_DRAIN_MS = 5000;
const ACCEPT_ERROR_LOG_INTERVAL_MS = 1000;

export class Server implements RuntimeControl {
  readonly apps = new Map<string, AppHost>();
  readonly log: Logger;
  readonly startMs = Date.now();
  readonly limits: ScgiLimits;
  /** Bound addresses, in listener order, after listen() (port 0 resolved). */
  readonly addresses: string[] = [];
  private readonly openListeners: OpenListener[] = [];
  /** Requests in progress: SCGI connections (one request each) and HTTP requests. */
  private readonly connections = new Set<HostedRequest>();
  /** The listeners of `protocol: 'http'` apps, by app name. */
  private readonly httpListeners = new Map<string, HttpListener>();
  private readonly recorder: TimingRecorder | null;
  private sweeper: NodeJS.Timeout | null = null;
  /** Logs descriptor exhaustion, which Node's accept never reports (descriptor-watch.ts). */
  private stopDescriptorWatch: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private stopped: Promise<void> | null = null;
  /** False once the listeners' close began: no connection is accepted after that. */
  private accepting = true;

  constructor(private readonly options: ServerOptions) {
    this.log = options.logger ?? pino({ level: 'silent' });
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.recorder = options.recorder ?? null;
    for (const spec of options.listeners) {
      parseListenAddress(spec.listen);
      if ('app' in spec.processor) {
        const app = spec.processor.app;
        if (this.apps.has(app.name)) throw new errors.DOW_ERR_CONFIG(`apps: ${app.name}`, 'app names must be unique');
        checkThreads(app.threads);
        const host = new AppHost(app, spec.listen, this.limits, this.log, this.recorder);
        if (options.accessLog) host.accessLog = createAccessLog(this.log, options.accessLog);
        if (options.routeFigures) host.stats.routes = new RouteStats();
        this.apps.set(app.name, host);
      }
    }
  }

  /** Listens on every address, or on none: a failure closes what was opened and throws. */
  async listen(): Promise<void> {
    this.stopDescriptorWatch = watchDescriptors(this.log);
    const ioDefault = defaultIoMode();
    try {
      for (const spec of this.options.listeners) {
        const host = 'app' in spec.processor ? (this.apps.get(spec.processor.app.name) as AppHost) : null;
        const listener = await this.openListener(spec, host, ioDefault);
        this.openListeners.push(listener);
        this.listening(spec, host, listener.address);
      }
    } catch (err) {
      await this.stopAccepting();
      throw err;
    }
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** The stats port and SCGI apps on node:net, SCGI apps on the native core, HTTP apps on node:http. */
  private async openListener(spec: ListenerSpec, host: AppHost | null, ioDefault: IoMode): Promise<OpenListener> {
    const onAcceptError = (address: string, err: NodeJS.ErrnoException): void => this.onAcceptError(address, err);
    if (host === null || !('app' in spec.processor)) return listenNet(spec, (socket) => this.onStatsConnection(socket), onAcceptError);
    const app = spec.processor.app;
    const serve = (socket: Socket): void => this.onConnection(socket, host);
    if (app.protocol === 'http') {
      const listener = await listenHttp(spec, {
        host,
        limits: this.limits,
        registry: this.connections,
        ...(app.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs: app.keepAliveTimeoutMs }),
        ...(app.trustProxy === undefined ? {} : { trustProxy: app.trustProxy }),
        ...(app.handler?.upgrade === undefined ? {} : { upgrade: app.handler.upgrade }),
        ...(app.maxUpgrades === undefined ? {} : { maxUpgrades: app.maxUpgrades }),
        ...(app.upgradeCapacity === undefined ? {} : { upgradeCapacity: app.upgradeCapacity }),
        ...(app.upgradeDrainTimeoutMs === undefined ? {} : { upgradeDrainTimeoutMs: app.upgradeDrainTimeoutMs }),
      }, onAcceptError);
      this.httpListeners.set(host.name, listener.http);
      return listener;
    }
    const native = chooseIo(host.name, app.io ?? ioDefault, this.limits, this.log);
    if (native === null) return listenNet(spec, serve, onAcceptError);
    const listener = await listenScgiNative(spec, native, this.limits, serve, onAcceptError);
    host.io = 'native';
    return listener;
  }

  private listening(spec: ListenerSpec, host: AppHost | null, bound: string): void {
    this.addresses.push(bound);
    if (host) host.listen = bound;
    if (!spec.handle && this.options.announce !== false) {
      const what = host === null ? ['stats'] : this.httpListeners.has(host.name) ? [host.name, 'HTTP'] : [host.name];
      this.log.info(host ? { app: host.name } : {}, upLine(bound, what, host?.io === 'native'));
    }
  }

  /** Serves a connection accepted elsewhere (handed over by the supervisor while it stops). */
  adopt(socket: Socket, app: string): void {
    const host = this.apps.get(app);
    if (host === undefined) throw new errors.DOW_ERR_UNKNOWN_APP(JSON.stringify(app));
    const http = this.httpListeners.get(app);
    if (http !== undefined) {
      http.adopt(socket);
      return;
    }
    // A socket received over IPC is built without our listener's options: a front end that
    // half-closes after its request must not end our side before the response is written.
    socket.allowHalfOpen = true;
    this.onConnection(socket, host);
  }

  /** Requests queued or running now, oldest first, at most `max`. */
  inFlight(max: number): InFlight[] {
    const list: InFlight[] = [];
    for (const conn of this.connections) {
      if (list.length >= max) break;
      if (conn.phase === Phase.QUEUED || conn.phase === Phase.RUNNING) {
        const path = conn.target.path;
        list.push([conn.startMs, conn.target.method, path, routeOf(conn.routeTemplate(), path, 0), conn.phase === Phase.QUEUED]);
      }
    }
    return list;
  }

  private onConnection(socket: Socket, host: AppHost): void {
    attachExchange(socket, new ScgiConnection(socket, host, this.connections));
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  private lastAcceptErrorLogAt = -Infinity;

  private onAcceptError(address: string, err: NodeJS.ErrnoException): void {
    const now = performance.now();
    if (now - this.lastAcceptErrorLogAt < ACCEPT_ERROR_LOG_INTERVAL_MS) return;
    this.lastAcceptErrorLogAt = now;
    const hint = err.code === 'EMFILE' || err.code === 'ENFILE' ? ' (out of file descriptors: raise `ulimit -n`, or lower threads and queue)' : '';
    this.log.error({ code: err.code, address }, `accept failed on ${address}: ${err.message}${hint}`);
  }

  private onStatsConnection(socket: Socket): void {
    socket.on('error', onSocketError);
    socket.end(this.statsText(), STATS_ENCODING);
  }

  statsText(): string {
    return formatStats(buildStatsFigures({
      pid: process.pid,
      version: VERSION,
      startMs: this.startMs,
      nowMs: Date.now(),
      apps: [...this.apps.values()].map((host) => ({ ...host.snapshot(), stats: host.stats })),
      store: this.recorder?.figures() ?? null,
    }));
  }

  private sweep(): void {
    const now = performance.now();
    const limits = this.limits;
    for (const conn of this.connections) conn.sweep(now, limits);
    for (const host of this.apps.values()) host.expireQueue(now);
  }

  // ── RuntimeControl ───────────────────────────────────────────────────────────────────────

  async setThreads(app: string, threads: number, source: string): Promise<{ app: string; oldThreads: number; newThreads: number }> {
    const host = this.apps.get(app);
    if (host === undefined) throw new errors.DOW_ERR_UNKNOWN_APP(JSON.stringify(app));
    checkThreads(threads);
    return changeThreads(host, { app, threads, source }, this.log, this.recorder);
  }

  /** Re-applies a limit saved before a restart (persistLimits); not a change, so not audited. */
  restoreThreads(app: string, threads: number, why = 'restored'): void {
    const host = this.apps.get(app);
    if (host === undefined) return;
    checkThreads(threads);
    if (host.threads !== threads) this.log.info({ app }, `${app}: threads ${host.threads} -> ${threads} (${why})`);
    host.setThreads(threads);
  }

  async reload(app: string): Promise<ReloadResult> {
    if (!this.apps.has(app)) throw new errors.DOW_ERR_UNKNOWN_APP(JSON.stringify(app));
    throw new errors.DOW_ERR_RELOAD(app, 'it runs inside this process (workers: 0); restart the server to load new code');
  }

  async setWorkers(app: string): Promise<ScaleResult> {
    if (!this.apps.has(app)) throw new errors.DOW_ERR_UNKNOWN_APP(JSON.stringify(app));
    throw new errors.DOW_ERR_SCALE(app, 'it runs inside this process (workers: 0); give it workers in the config and restart the server');
  }

  async snapshot(): Promise<RuntimeSnapshot> {
    return runtimeSnapshot([...this.apps.values()].map((host) => host.snapshot()), this.startMs);
  }

  // ── shutdown ─────────────────────────────────────────────────────────────────────────────

  /** Stops accepting, lets in-flight and queued requests finish up to `drainTimeoutMs`, then cuts the rest. */
  close(drainTimeoutMs = 10_000, closeCode: CloseCode = CloseCode.GOING_AWAY, upgradeTimeoutMs = drainTimeoutMs): Promise<void> {
    this.stopDescriptorWatch?.();
    this.closing ??= this.drain(drainTimeoutMs, closeCode, upgradeTimeoutMs);
    return this.closing;
  }

  private async drain(drainTimeoutMs: number, closeCode: CloseCode, upgradeTimeoutMs: number): Promise<void> {
    const closed = this.stopAccepting();
    const started = performance.now();
    const deadline = started + drainTimeoutMs;
    // Keep-alive connections: busy ones close after their current response, idle ones after
    // their next (or at the deadline, below): closing one now races a request sent on it.
    for (const http of this.httpListeners.values()) http.beginDrain();
    const upgradesClosed = this.drainUpgrades(started, drainTimeoutMs, upgradeTimeoutMs, closeCode);
    // The listeners' backlog sweep may still accept: what it accepts is served like the rest.
    while ((this.accepting || this.connections.size > 0) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Queued ones first: a running one cut later frees its slot, which must not start a waiter.
    const left = [...this.connections].sort((a, b) => Number(b.phase === Phase.QUEUED) - Number(a.phase === Phase.QUEUED));
    for (const conn of left) conn.cutByDrain();
    // The sweep goes on while HTTP connections close: a request that arrives late still times out.
    if (this.httpListeners.size > 0) await this.closeHttpConnections(closed, deadline, started + HTTP_IDLE_DRAIN_MS);
    // Running beside the HTTP drain since its start: its deadline may come before or after.
    await upgradesClosed;
    if (this.sweeper) clearInterval(this.sweeper);
    await closed;
  }

  /**
   * Every request is finished, but an HTTP connection can outlive its last: its final response
   * still flushing, a kept-alive one the front end has not used since, or a connection accepted as
   * the drain started whose request is on its way (or that never sends one). They get until the
   * deadline (at least HTTP_CLOSE_GRACE_MS), then are closed.
   */
  private async closeHttpConnections(closed: Promise<void>, deadline: number, idleDeadline: number): Promise<void> {
    let done = false;
    void closed.then(() => (done = true));
    const until = Math.max(performance.now() + HTTP_CLOSE_GRACE_MS, deadline);
    let idleClosed = false;
    while (!done && performance.now() < until) {
      if (!idleClosed && performance.now() >= idleDeadline) {
        idleClosed = true;
        for (const http of this.httpListeners.values()) http.closeIdleConnections();
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A request that arrived meanwhile and is not done gets the drain's 503 (or its cut), as above,
    // and a moment to leave: its connection then closes itself (Connection: close).
    const late = [...this.connections];
    for (const conn of late) conn.cutByDrain();
    if (late.length > 0 && !done) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, HTTP_LAST_ANSWER_MS)))]);
      clearTimeout(timer);
    }
    // Kept-alive connections the front end left idle are expected here; only the others are news.
    for (const http of this.httpListeners.values()) http.closeIdleConnections();
    let left = 0;
    for (const http of this.httpListeners.values()) left += http.closeAllConnections();
    if (left > 0) this.log.warn(`${left} HTTP connection${left === 1 ? '' : 's'} still open at the drain deadline closed (a request that never came, or never finished sending)`);
  }

  /**
   * Upgraded connections get `upgradeTimeoutMs` (the configured drainTimeout: unlike a request,
   * a WebSocket has no end of its own that a longer requestTimeout would wait for) to end by
   * themselves, or their app's upgradeDrainTimeout: shorter, so that clients move to new workers
   * sooner; longer only when the worker is replaced (1012), since a stop must end within
   * drainTimeout. The rest are told why they go.
   */
  private async drainUpgrades(started: number, drainTimeoutMs: number, upgradeTimeoutMs: number, code: CloseCode): Promise<void> {
    const reason = code === CloseCode.SERVICE_RESTART ? 'server restart' : code === CloseCode.GOING_AWAY ? 'server stopping' : 'server error';
    const counts = await Promise.all([...this.httpListeners.values()].map((http) => {
      const own = http.upgradeDrainTimeoutMs ?? upgradeTimeoutMs;
      return http.drainUpgrades(started + (code === CloseCode.SERVICE_RESTART ? own : Math.min(own, drainTimeoutMs)), code, reason);
    }));
    const closed = counts.reduce((a, b) => a + b, 0);
    if (closed > 0) this.log.info(`${closed} upgraded connection${closed === 1 ? '' : 's'} (WebSockets) still open at the drain deadline closed with ${code} (${reason})`);
  }

  /** Closes the listening sockets (idempotent); connections already accepted go on. */
  stopAccepting(): Promise<void> {
    this.stopped ??= this.closeListeners();
    return this.stopped;
  }

  /**
   * A listener of its own (in-process mode) first stops completing handshakes and accepts what is
   * queued and on its way, then closes from the check phase right after a poll phase has
   * accepted, so the close resets nothing (server/listen/listen-address.ts, stopHandshakes and
   * sweepBacklog). A worker's copy of the supervisor's socket closes at once: the supervisor
   * sweeps that backlog itself.
   */
  private async closeListeners(): Promise<void> {
    const own = this.openListeners.filter((listener) => listener.own);
    if (own.length > 0) {
      const refusing = own.filter((listener) => listener.stopHandshakes()).map((listener) => tcpPortOf(listener.address));
      await sweepBacklog(refusing.filter((port) => port !== null));
    }
    this.accepting = false;
    await Promise.all(this.openListeners.map((listener) => listener.close()));
  }

  get connectionCount(): number {
    return this.connections.size;
  }
}

export function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new errors.DOW_ERR_THREADS_RANGE(MAX_THREADS, JSON.stringify(threads));
  }
}

function onSocketData(this: Socket, chunk: Buffer): void {
  (exchangeOf(this) as ScgiConnection).onData(chunk);
}

function onSocketClose(this: Socket): void {
  (exchangeOf(this) as ScgiConnection).onClose();
}

function onSocketEnd(this: Socket): void {
  (exchangeOf(this) as ScgiConnection).onEnd();
}

/** Resets and broken pipes are normal for a front end that gave up; 'close' follows and counts it. */
function onSocketError(): void {}
