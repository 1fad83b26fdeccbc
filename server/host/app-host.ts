/**
 * @module app-host
 * One app as the runtime hosts it: its limiter, its live figures, its timeouts and its adapter.
 * Connections hand parsed requests here; the host admits, queues or refuses them (503 with
 * Retry-After, never a silent close) and records each finished request exactly once.
 */
import type { Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import type { AppSnapshot } from '../../shared/runtime-control.js';
import { Outcome, type TimingRecorder } from '../../shared/timing-row.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { UpgradeCapacity } from '../http/upgrade-capacity.js';
import type { AccessLogWriter } from '../logs/access-log.js';
import { AppStats } from './app-stats.js';
import type { HostedRequest } from './hosted-request.js';
import { Phase, Unserved, type Ending } from './request-phase.js';
import { Limiter } from './limiter.js';
import { routeOf } from './route-fold.js';
import { ANSWERS, answerRequest } from './request-end.js';
import { LogThrottle } from '../logs/log-throttle.js';
import type { ScgiLimits } from '../protocol/limits.js';
import type { IoMode } from '../native/io-choice.js';
import { performance } from 'node:perf_hooks';

export interface AppOptions {
  name: string;
  handler: AppHandler;
  threads: number;
  /** Requests allowed to wait for a thread; 0 refuses at once when all threads are busy. */
  queue: number;
  /** Longest wait in the queue before a 503, ms. */
  queueTimeoutMs: number;
  /** Longest time an admitted request may take; 0 disables. */
  requestTimeoutMs: number;
  mount: string;
  /**
   * What a FIN from the front end means once the request is in: 'abort' (the default) because
   * nginx, lighttpd and Apache never half-close after sending a request, so their FIN means the
   * client left; 'answer' for SCGI clients that do half-close after sending (docs/frontends.md).
   */
  halfClose?: 'abort' | 'answer';
  /**
   * scgi: who does the socket I/O: the native core (native/), node:net, or 'auto' (the default:
   * native where it built and loads, else node:net with the reason logged).
   */
  io?: IoMode;
  /** 'scgi' (the default), or 'http': HTTP/1.1 with keep-alive through node:http (server/http/). */
  protocol?: 'scgi' | 'http';
  /** http: how long an idle keep-alive connection stays open, ms; longer than the front end's. */
  keepAliveTimeoutMs?: number;
  /**
   * http: the peers (addresses, CIDRs, or proxy-addr's 'loopback', 'linklocal', 'uniquelocal')
   * whose X-Forwarded-For, X-Forwarded-Proto and X-Real-IP are believed; false: nobody's.
   */
  trustProxy?: readonly string[] | false;
  /** http: upgraded connections (WebSockets) the app holds at once, beyond the thread limit; past it, 503. */
  maxUpgrades?: number;
  /** http, in a worker: its lease of maxUpgrades from the supervisor (in-process: the whole cap here). */
  upgradeCapacity?: UpgradeCapacity;
  /** http: how long a draining worker keeps its upgraded connections, ms (default: drainTimeout). */
  upgradeDrainTimeoutMs?: number;
}

/** What a row and an access line need: a request, or an upgraded connection's session. */
export type SessionRecord = Pick<HostedRequest, 'acceptedAt' | 'startMs' | 'target' | 'bytesIn' | 'bytesOut' | 'accessFields'>;

/** 503s and malformed requests are logged at most once a second per app, with a count. */
const LOG_INTERVAL_MS = 1000;

export class AppHost {
  readonly name: string;
  readonly mount: string;
  readonly stats = new AppStats();
  /** Who serves this app's socket, once it listens (server.ts): for the UP line and `check`. */
  io: 'native' | 'node' = 'node';
  readonly limiter: Limiter<HostedRequest>;
  queueTimeoutMs: number;
  requestTimeoutMs: number;
  readonly halfCloseAborts: boolean;
  private readonly handler: AppHandler;
  /**
   * Called whenever the limiter's running or waiting count changes, in a worker process, so that
   * the supervisor hears about queue pressure and slots given back, and sees the counts even
   * while the app is stuck in a request: so always before the app's code runs. Null in-process.
   */
  onLoadChange: ((host: AppHost) => void) | null = null;
  /**
   * The app's whole thread limit when this host runs one worker's share of it (the limiter's
   * limit); null in-process, where the two are the same.
   */
  appThreads: number | null = null;
  /** The opt-in access log (log.access); null: off, and no cost per request. */
  accessLog: AccessLogWriter | null = null;
  private readonly rejectionLog = new LogThrottle(LOG_INTERVAL_MS);
  /** Per error code: a flood of one kind never hides the first line of another. */
  private readonly badRequestLogs = new Map<string, LogThrottle>();

  constructor(
    options: AppOptions,
    public listen: string,
    readonly limits: ScgiLimits,
    readonly log: Logger,
    private readonly recorder: TimingRecorder | null,
  ) {
    this.name = options.name;
    // Every line about this app names it (a worker's logger does already).
    this.log = log.bindings().app === options.name ? log : log.child({ app: options.name });
    this.mount = options.mount.replace(/\/+$/, '');
    this.handler = options.handler;
    this.limiter = new Limiter(options.threads, options.queue);
    this.queueTimeoutMs = options.queueTimeoutMs;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.halfCloseAborts = options.halfClose !== 'answer';
  }

  /** The log with this app's name on each line (a worker's log has it already), for the app's own use. */
  get appLog(): Logger {
    return this.log;
  }

  get threads(): number {
    return this.limiter.limit;
  }

  setThreads(threads: number): void {
    const admitted = this.limiter.setLimit(threads);
    if (admitted.length > 0) this.onLoadChange?.(this);
    for (const conn of admitted) this.dispatch(conn);
  }

  admit(conn: HostedRequest): void {
    const result = this.limiter.acquire(conn, performance.now());
    if (result === 'run') {
      this.onLoadChange?.(this);
      this.dispatch(conn);
    } else if (result === 'queued') {
      conn.phase = Phase.QUEUED;
      this.onLoadChange?.(this);
    } else this.reject(conn, new errors.DOW_ERR_QUEUE_FULL(this.name, this.limitFigures(), this.limiter.waiting).message);
  }

  /** Answers 503 to waiters that queued at or before `now - queueTimeoutMs`. */
  expireQueue(now: number): void {
    if (this.limiter.waiting === 0) return;
    for (const conn of this.limiter.expire(now - this.queueTimeoutMs)) {
      const waited = Math.round(now - conn.queuedAt);
      this.reject(conn, new errors.DOW_ERR_QUEUE_TIMEOUT(this.name, this.limitFigures(), waited).message);
    }
  }

  /**
   * The limit a 503 hit, as an operator reads it: in a worker, its share alone ("limit=4") would
   * read as the app's limit, which is what the operator set and looks for.
   */
  private limitFigures(): string {
    const { limit, running } = this.limiter;
    return this.appThreads === null ? `limit=${limit} online=${running}` : `app limit=${this.appThreads}, this worker's share=${limit}, online=${running}`;
  }

  private dispatch(conn: HostedRequest): void {
    conn.phase = Phase.RUNNING;
    conn.admittedAt = performance.now();
    try {
      conn.run(this.handler, this.name);
    } catch (err) {
      conn.appFailed(err);
    }
  }

  private reject(conn: HostedRequest, message: string): void {
    // The original's wording, so existing log alerts keep matching; rate-limited under overload.
    this.logRefusal(message);
    answerRequest(conn, Outcome.REJECTED, ANSWERS.tooBusy);
  }

  /**
   * Called once per request, whatever ended it. Its row is recorded before its slot is released:
   * a worker killed in between is then counted twice (its row, and a lost request by its load),
   * never not at all, and the next request's handler, run from dispatch, comes after the row.
   */
  finished(conn: HostedRequest, phase: Phase, status: number, outcome: Ending): void {
    if (outcome === Unserved.MALFORMED || outcome === Unserved.LEFT) {
      // It never reached the app, so it is not one of its requests (and holds no slot).
      if (outcome === Unserved.MALFORMED) this.stats.badRequests++;
      return;
    }
    this.account(conn, status, outcome);
    if (phase === Phase.RUNNING) {
      const next = this.limiter.release();
      this.onLoadChange?.(this);
      if (next !== undefined) this.dispatch(next);
    } else if (phase === Phase.QUEUED) {
      this.limiter.cancel(conn);
      this.onLoadChange?.(this);
    }
  }

  /** The request's figures, access line and timing row. */
  private account(conn: HostedRequest, status: number, outcome: Outcome): void {
    const now = performance.now();
    const stats = this.stats;
    if (outcome === Outcome.REJECTED) stats.rejected++;
    else if (outcome === Outcome.TIMEOUT) stats.timeouts++;
    else if (outcome === Outcome.ABORTED) stats.aborted++;
    const admitted = conn.admittedAt > 0;
    const queueMs = (admitted ? conn.admittedAt : now) - conn.acceptedAt;
    const serviceMs = admitted ? now - conn.admittedAt : 0;
    if (this.accessLog !== null) this.writeAccess(conn, status, now - conn.acceptedAt, queueMs);
    // Folded once, only when something keeps it: the store's row or the per-route figures.
    const route = this.recorder !== null || stats.routes !== null ? routeOf(conn.routeTemplate(), conn.target.path, status) : '';
    stats.record(now - conn.acceptedAt, queueMs, status, { method: conn.target.method, route });
    if (this.recorder !== null) {
      // The store truncates the path, or drops it when path recording is off.
      this.recorder.record({
        app: this.name,
        startMs: conn.startMs,
        queueMs,
        serviceMs,
        status,
        outcome,
        bytesIn: conn.bytesIn,
        bytesOut: conn.bytesOut,
        method: conn.target.method,
        path: conn.target.path,
        route,
      });
    }
  }

  /**
   * An upgraded connection ended, or was refused: its timing row (its whole life as the service
   * time) and access line. It held no slot and is not one of the requests in the live figures.
   */
  recordSession(session: SessionRecord, status: number, outcome: Outcome): void {
    const durationMs = performance.now() - session.acceptedAt;
    if (this.accessLog !== null) this.writeAccess(session, status, durationMs, 0);
    this.recorder?.record({
      app: this.name,
      startMs: session.startMs,
      queueMs: 0,
      serviceMs: durationMs,
      status,
      outcome,
      bytesIn: session.bytesIn,
      bytesOut: session.bytesOut,
      method: session.target.method,
      path: session.target.path,
    });
  }

  private writeAccess(conn: SessionRecord, status: number, durationMs: number, queueMs: number): void {
    (this.accessLog as AccessLogWriter)({
      ...conn.accessFields(),
      app: this.name,
      startMs: conn.startMs,
      method: conn.target.method,
      status,
      bytes: conn.bytesOut,
      durationMs,
      queueMs,
    });
  }

  /** A 503 for an upgrade past maxUpgrades: throttled as the limiter's are. */
  logRefusal(message: string): void {
    const left = this.rejectionLog.take(performance.now());
    if (left !== null) this.log.warn(left > 0 ? `${message} (${left} more 503s not logged)` : message);
  }

  /** A malformed request: one client can send thousands a second, so the log is throttled. */
  logBadRequest(code: string, fields: Record<string, unknown>, message: string): void {
    let throttle = this.badRequestLogs.get(code);
    if (throttle === undefined) this.badRequestLogs.set(code, (throttle = new LogThrottle(LOG_INTERVAL_MS)));
    const left = throttle.take(performance.now());
    if (left !== null) this.log.warn({ ...fields, code }, left > 0 ? `${message} (${left} more like it not logged)` : message);
  }

  logAppError(conn: HostedRequest, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.log.error(
      { err: error, method: conn.target.method, url: conn.target.url, code: 'DOW_ERR_APP_THREW' },
      new errors.DOW_ERR_APP_THREW(this.name, error.message).message,
    );
  }

  snapshot(): AppSnapshot {
    const s = this.stats;
    return {
      name: this.name,
      listen: this.listen,
      mount: this.mount,
      threads: this.limiter.limit,
      online: this.limiter.running,
      queued: this.limiter.waiting,
      requests: s.requests,
      rejected: s.rejected,
      errors: s.errors,
      timeouts: s.timeouts,
      aborted: s.aborted,
      workers: 0,
      restarts: 0,
      hangs: 0,
      workerPids: [],
      backoffMs: 0,
      websockets: s.websockets,
      upgrades: s.upgrades,
    };
  }

  /** The figures an app sees about itself through `req.scgi.stats()`: the snapshot's counters plus durations. */
  ownFigures(): Record<string, number> {
    const { name: _name, listen: _listen, mount: _mount, workers: _w, restarts: _r, hangs: _h, workerPids: _p, backoffMs: _b, threadsMode: _m, threadsReason: _r2, websockets: _ws, upgrades: _u, ...counters } = this.snapshot();
    const s = this.stats;
    return {
      ...counters,
      bad_requests: s.badRequests,
      online_time: s.onlineTime,
      online_time_average: s.average,
      online_time_longest: s.requests > 0 ? s.longest : 0,
      online_time_shortest: s.requests > 0 ? s.shortest : 0,
      online_time_stddev: s.stddev,
    };
  }
}
