/**
 * @module supervisor
 * What `serve` and `demo` run: owns the listening sockets, the stats port and the timing store's
 * rows, and one worker pool per app (or, for `workers: 0`, an in-process Server). Runs no app
 * code, so the stats port and the dashboard answer whatever an app does.
 *
 *   front end ──▶ listening socket (bound here, never accepted here but while stopping)
 *                    ├──▶ worker 1 ┐ accept on their copies; rows, figures, load ──IPC──▶ supervisor
 *                    └──▶ worker 2 ┘
 *   nc :9004 ──▶ stats port (here) ── asks every worker for fresh figures, sums them
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { appLogFile, createLogger } from '../logs/logger.js';
import { errors, isDragonError } from '../../shared/errors.js';
import { formatListenAddress, parseListenAddress } from '../../shared/listen-address.js';
import { MAX_WORKERS, type InFlightRequest, type WorkerProcessRow, type ReloadResult, type RuntimeControl, type RuntimeSnapshot, type ScaleResult, type ThreadsMode } from '../../shared/runtime-control.js';
import { IN_FLIGHT_REPORTED } from './ipc-protocol.js';
import { formatStats, STATS_ENCODING } from '../../shared/stats-format.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { appEnvironmentFromFile, type AppSettings, type RuntimeSettings } from '../config/config.js';
import { rereadEnvFile, type AppEnvironment } from '../config/app-environment.js';
import { watchDescriptors } from '../listen/descriptor-watch.js';
import { DEFAULT_SOCKET_MODE, listenOn, sweepBacklog } from '../listen/listen-address.js';
import { checkThreads, Server } from '../listen/server.js';
import { changeThreads, runtimeSnapshot } from '../host/runtime-summary.js';
import { buildStatsFigures, type AppState } from '../metrics/stats-report.js';
import { isPackedBatch, unpack, type PackedBatch } from '../store/packed-batch.js';
import { VERSION } from '../core/version.js';
import { bindListeningSocket, type BoundSocket } from './listen-handle.js';
import { ReloadQueue } from './reload-queue.js';
import { WorkerPool } from './worker-pool.js';
import { exposureWarning } from '../config/exposure-warning.js';
import type { MetricsSnapshot } from '../metrics/families.js';
import { assessReadiness, type Readiness } from '../metrics/health.js';
import type { RunningMetricsServer } from '../metrics/metrics-server.js';
import { describeHandler } from '../host/app-loader.js';
import { defaultIoMode } from '../native/io-choice.js';
import { upLine } from '../listen/up-line.js';
import { DEFAULT_MAX_UPGRADES } from '../http/http-upgrades.js';
import { AdaptiveLimit } from '../adaptive/adaptive-limit.js';
import type { AppTotals } from '../adaptive/window-sample.js';

type Slot = { kind: 'pool'; pool: WorkerPool; bound: BoundSocket } | { kind: 'inline'; server: Server };

export class Supervisor implements RuntimeControl {
  readonly startMs = Date.now();
  /** Bound app addresses in config order, then the stats port's, after start(). */
  readonly addresses: string[] = [];
  private readonly slots = new Map<string, Slot>();
  private readonly order: string[] = [];
  private statsServer: NetServer | null = null;
  /** Logs descriptor exhaustion, which Node's accept never reports (descriptor-watch.ts). */
  private stopDescriptorWatch: (() => void) | null = null;
  private metricsServer: RunningMetricsServer | null = null;
  /** The metrics listener's bound address after start(); null when it is off. */
  metricsAddress: string | null = null;
  /** One per app with workers: its reloads one at a time, none dropped (reload-queue.ts). */
  private readonly reloads = new Map<string, ReloadQueue<ReloadResult>>();
  /** One per app with `adaptive` in its config. */
  private readonly adaptive = new Map<string, AdaptiveLimit>();
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly settings: RuntimeSettings,
    readonly log: Logger,
    private readonly recorder: (TimingRecorder & { recordBatch?(batch: PackedBatch): void; health?(): { writable: boolean; reason: string } }) | null,
  ) {}

  /** metrics.routeLabel: the apps keep figures per route for the metrics listener. */
  private get routeLabel(): boolean {
    return this.settings.metrics !== null && this.settings.metrics !== undefined && this.settings.metricsRouteLabel === true;
  }

  hasApp(name: string): boolean {
    return this.slots.has(name);
  }

  /** Starts every app, then the stats port; on any failure stops what started and throws. */
  async start(): Promise<void> {
    this.stopDescriptorWatch = watchDescriptors(this.log);
    try {
      await Promise.all(this.settings.apps.map((app, i) => this.startApp(app, i)));
      for (const app of this.settings.apps) {
        const slot = this.slots.get(app.options.name) as Slot;
        const address = slot.kind === 'pool' ? formatListenAddress(slot.bound.address) : (slot.server.addresses[0] as string);
        this.order.push(app.options.name);
        this.addresses.push(address);
        const mode = slot.kind === 'pool'
          ? [`${app.workers?.count} worker${app.workers?.count === 1 ? '' : 's'}`, ...(slot.pool.kind === null ? [] : [slot.pool.kind])]
          : ['in-process', describeHandler(app.options.handler)];
        const protocol = app.options.protocol === 'http' ? ['HTTP'] : [];
        // In-process: what the Server chose; with workers, what they reported when they listened.
        const io = slot.kind === 'pool' ? slot.pool.io : slot.server.apps.get(app.options.name)?.io;
        this.log.info({ app: app.options.name }, upLine(address, [app.options.name, ...protocol, ...mode], io === 'native'));
        const exposed = exposureWarning(app.options.name, address);
        if (exposed !== null) this.log.warn({ app: app.options.name }, exposed);
      }
      if (this.settings.stats !== null) await this.startStatsPort(this.settings.stats);
      if (this.settings.metrics) await this.startMetrics(this.settings.metrics);
      await Promise.all(this.settings.apps.filter((app) => app.adaptive).map((app) => this.startAdaptive(app)));
    } catch (err) {
      await this.stop(0);
      throw err;
    }
  }

  /** An in-process app's lines go where its workers' would: its own file when log.file says so. */
  private appLog(name: string): Logger {
    const log = this.settings.log;
    if (log.appFile === undefined) return this.log;
    // Named on every line, as a worker's lines are: its file may hold nothing else.
    return createLogger({ level: log.level, format: log.format, file: appLogFile(log, name) as string }).child({ app: name });
  }

  private async startApp(app: AppSettings, index: number): Promise<void> {
    const name = app.options.name;
    const workers = app.workers;
    if (!workers || workers.count === 0 || !app.source) {
      const { handler } = app.options;
      if (!handler) throw new errors.DOW_ERR_CONFIG(this.settings.source ?? 'settings', `apps[${index}]: no handler for an in-process app`);
      const server = new Server({
        listeners: [{
          listen: app.listen,
          ...(app.socketMode === undefined ? {} : { socketMode: app.socketMode }),
          ...(app.socketOwner === undefined ? {} : { socketOwner: app.socketOwner }),
          processor: { app: { ...app.options, handler } },
        }],
        limits: this.settings.limits,
        logger: this.appLog(name),
        recorder: this.recorder,
        accessLog: this.settings.log.access ?? null,
        routeFigures: this.routeLabel,
        // The UP line below names the app and what it is; the Server's own would repeat it.
        announce: false,
      });
      this.slots.set(name, { kind: 'inline', server });
      await server.listen();
      return;
    }
    checkThreads(app.options.threads);
    const bound = await bindListeningSocket(parseListenAddress(app.listen), app.socketMode ?? DEFAULT_SOCKET_MODE, app.socketOwner ?? null);
    const listen = formatListenAddress(bound.address);
    const { handler: _inProcessOnly, threads: _shared, ...options } = app.options;
    const store = this.settings.store;
    const pool = new WorkerPool({
      name,
      listen,
      address: bound.local,
      mount: app.options.mount.replace(/\/+$/, ''),
      handle: bound.handle,
      workers: workers.count,
      threads: app.options.threads,
      hangTimeoutMs: workers.hangTimeoutMs,
      maxRequests: workers.maxRequests,
      maxMemoryMiB: workers.maxMemoryMiB,
      drainTimeoutMs: this.settings.drainTimeoutMs,
      credentials: this.settings.runAs ?? null,
      environment: workers.environment ?? null,
      readEnvironment: () => this.readEnvironment(name, workers.environment ?? null),
      startConfig: {
        // The whole cap: the pool leases it to the workers as they need it (upgrade-leases.ts).
        app: { ...options, maxUpgrades: options.maxUpgrades ?? DEFAULT_MAX_UPGRADES },
        source: app.source,
        listen,
        limits: this.settings.limits,
        log: this.settings.log,
        store: this.recorder && store ? { recordPaths: store.recordPaths } : null,
        // io 'node' keeps the app off the native core altogether, its rows on the pipe too.
        rowRing: (app.options.io ?? defaultIoMode()) !== 'node',
        routeFigures: this.routeLabel,
      },
      log: this.log,
      onRows: (batch) => {
        const recorder = this.recorder;
        if (!recorder) return;
        if (!isPackedBatch(batch)) {
          this.log.error({ app: name }, `${name}: a worker sent a malformed batch of timing rows; dropped`);
          return;
        }
        // The store's own format: copied column by column into the store's batch without row
        // objects (unpacking cost the supervisor 3-5 µs per request, measured); a plain
        // recorder gets the rows one by one.
        if (recorder.recordBatch) recorder.recordBatch(batch);
        else for (const row of unpack(batch)) recorder.record(row);
      },
      onRow: (row) => this.recorder?.record(row),
      onEvent: (event) => this.recorder?.recordEvent(event),
    });
    this.slots.set(name, { kind: 'pool', pool, bound });
    this.reloads.set(name, new ReloadQueue((source) => (this.stopping
      ? Promise.reject(new errors.DOW_ERR_RELOAD(name, 'the server is stopping'))
      : pool.reload(source))));
    try {
      await pool.start();
    } catch (err) {
      if (isDragonError(err, 'DOW_ERR_LISTEN')) throw err;
      // A module that fails in a worker is the same config error as one that fails in-process.
      const why = isDragonError(err) ? (err as { workerMessage?: string }).workerMessage ?? err.message : String(err);
      throw new errors.DOW_ERR_CONFIG(this.settings.source ?? 'settings', `apps[${index}].module: ${why}`);
    }
  }

  /** An app's `cwd`, `env` and envFile for a reload: from the config file when there is one. */
  private async readEnvironment(name: string, loaded: AppEnvironment | null): Promise<AppEnvironment | null> {
    const file = this.settings.configFile;
    if (file !== undefined) return appEnvironmentFromFile(file, name);
    return loaded === null ? null : rereadEnvFile(loaded);
  }

  private async startStatsPort(address: string): Promise<void> {
    const net = createNetServer((socket) => this.onStatsConnection(socket));
    this.statsServer = net;
    const bound = formatListenAddress(await listenOn(net, parseListenAddress(address), DEFAULT_SOCKET_MODE));
    net.on('error', (err) => this.log.error({ err }, `stats port ${bound}: ${err.message}`));
    this.addresses.push(bound);
    this.log.info(upLine(bound, ['stats']));
  }

  private onStatsConnection(socket: Socket): void {
    socket.on('error', () => {});
    this.statsText().then(
      (text) => socket.end(text, STATS_ENCODING),
      (err: unknown) => {
        this.log.error({ err }, 'stats port: cannot build the figures');
        socket.destroy();
      },
    );
  }

  async statsText(): Promise<string> {
    const apps = await this.appStates();
    let lost = 0;
    for (const slot of this.slots.values()) if (slot.kind === 'pool') lost += slot.pool.rowsLost;
    return formatStats(buildStatsFigures({
      pid: process.pid,
      version: VERSION,
      startMs: this.startMs,
      nowMs: Date.now(),
      apps,
      store: this.recorder?.figures() ?? null,
      storeLost: lost,
    }));
  }

  private async startMetrics(listen: string): Promise<void> {
    // Loaded only when asked for: without a metrics listener the supervisor samples nothing of its own.
    const { startMetricsServer } = await import('../metrics/metrics-server.js');
    this.metricsServer = await startMetricsServer(listen, this, this.log);
    this.metricsAddress = this.metricsServer.address;
    this.log.info(upLine(this.metricsAddress, ['metrics: /metrics, /healthz, /readyz']));
  }

  /** For /metrics: the figures the stats port prints (same collection), plus each worker's process. */
  async metricsSnapshot(): Promise<MetricsSnapshot> {
    const states = await this.appStates();
    let lost = 0;
    for (const slot of this.slots.values()) if (slot.kind === 'pool') lost += slot.pool.rowsLost;
    return {
      version: VERSION,
      startMs: this.startMs,
      apps: states.map((state) => {
        const slot = this.slots.get(state.name) as Slot;
        return { state, inProcess: slot.kind === 'inline', workers: slot.kind === 'pool' ? slot.pool.processes() : [] };
      }),
      store: this.recorder?.figures() ?? null,
      storeLost: lost,
      readiness: this.readiness(),
      routeLabel: this.routeLabel,
    };
  }

  /** For /readyz: from what the heartbeats already brought, no round trip to any worker. */
  readiness(): Readiness {
    return assessReadiness({
      stopping: this.stopping !== null,
      apps: this.order.map((name) => {
        const slot = this.slots.get(name) as Slot;
        if (slot.kind === 'inline') return { name, inProcess: true, readyWorkers: 0, workers: 0, backoffMs: 0 };
        return { name, inProcess: false, readyWorkers: slot.pool.readyWorkers(), workers: slot.pool.workers.size, backoffMs: slot.pool.backoffMs, startError: slot.pool.startError };
      }),
      store: this.recorder ? this.recorder.health?.() ?? { writable: true, reason: '' } : null,
    });
  }

  private async appStates(): Promise<AppState[]> {
    await Promise.all([...this.slots.values()].map((slot) => (slot.kind === 'pool' ? slot.pool.collect() : undefined)));
    return this.order.map((name) => {
      const slot = this.slots.get(name) as Slot;
      const adaptive = this.adaptive.get(name);
      const mode = adaptive ? { threadsMode: adaptive.mode, threadsReason: adaptive.reason } : {};
      if (slot.kind === 'pool') return { ...slot.pool.state(), ...mode, reloads: this.reloads.get(name)?.figures(), cwd: slot.pool.cwd };
      const host = slot.server.apps.get(name);
      if (!host) throw new errors.DOW_ERR_UNKNOWN_APP(name);
      return { ...host.snapshot(), ...mode, stats: host.stats, cwd: process.cwd() };
    });
  }

  // ── RuntimeControl ───────────────────────────────────────────────────────────────────────

  async snapshot(): Promise<RuntimeSnapshot> {
    return runtimeSnapshot((await this.appStates()).map(({ stats: _stats, ...snapshot }) => snapshot), this.startMs);
  }

  /** An operator's limit: an adaptive app switches to fixed (audited) before it applies. */
  async setThreads(app: string, threads: number, source: string): Promise<{ app: string; oldThreads: number; newThreads: number }> {
    const slot = this.slotOf(app);
    checkThreads(threads);
    if (slot.kind === 'pool' && threads < slot.pool.workerTarget) throw new errors.DOW_ERR_THREADS_BELOW_WORKERS(app, slot.pool.workerTarget, threads);
    this.adaptive.get(app)?.fix(source);
    if (slot.kind === 'inline') return slot.server.setThreads(app, threads, source);
    return changeThreads(slot.pool, { app, threads, source }, this.log, this.recorder);
  }

  /** `fixed` keeps the limit where it is now; `adaptive` resumes the controller from it. */
  async setThreadsMode(app: string, mode: ThreadsMode, source: string): Promise<{ app: string; mode: ThreadsMode; threads: number }> {
    this.slotOf(app);
    if (mode !== 'adaptive' && mode !== 'fixed') throw new errors.DOW_ERR_THREADS_MODE(JSON.stringify(mode));
    const adaptive = this.adaptive.get(app);
    if (!adaptive) throw new errors.DOW_ERR_NOT_ADAPTIVE(app);
    if (mode === 'fixed') adaptive.fix(source);
    else await adaptive.resume(source);
    return { app, mode: adaptive.mode, threads: this.threadsOf(app) };
  }

  private startAdaptive(app: AppSettings): Promise<void> {
    const name = app.options.name;
    const limit = new AdaptiveLimit({
      app: name,
      config: app.adaptive as NonNullable<AppSettings['adaptive']>,
      threads: () => this.threadsOf(name),
      totals: () => this.totalsOf(name),
      apply: (threads) => {
        const slot = this.slotOf(name);
        if (slot.kind === 'pool') slot.pool.setThreads(threads);
        else slot.server.apps.get(name)?.setThreads(threads);
      },
      log: this.log,
      recorder: this.recorder,
    });
    this.adaptive.set(name, limit);
    return limit.start();
  }

  private threadsOf(app: string): number {
    const slot = this.slotOf(app);
    return slot.kind === 'pool' ? slot.pool.threads : slot.server.apps.get(app)?.threads ?? 0;
  }

  /** Fresh figures from the workers (one ping each, as a stats-port read makes). */
  private async totalsOf(app: string): Promise<AppTotals> {
    const slot = this.slotOf(app);
    if (slot.kind === 'pool') await slot.pool.collect();
    const host = slot.kind === 'inline' ? slot.server.apps.get(app) : undefined;
    const { stats, queued } = slot.kind === 'pool' ? slot.pool.state() : { stats: host?.stats, queued: host?.snapshot().queued ?? 0 };
    if (!stats) return { requests: 0, rejected: 0, timeouts: 0, onlineTime: 0, queueTime: 0, queued: 0 };
    return { requests: stats.requests, rejected: stats.rejected, timeouts: stats.timeouts, onlineTime: stats.onlineTime, queueTime: stats.queueTime, queued };
  }

  /** Re-applies a limit saved before a restart (persistLimits); not a change, so not audited. */
  restoreThreads(app: string, threads: number, why = 'restored'): void {
    const slot = this.slots.get(app);
    if (!slot) return;
    const adaptive = this.adaptive.get(app);
    if (adaptive) {
      this.log.info({ app }, `${app}: adaptive limit resumes from ${threads} after its probe (${why})`);
      adaptive.startFrom(threads).catch((err: unknown) => this.log.error({ app, err }, `${app}: adaptive limit: ${(err as Error).message}`));
      return;
    }
    if (slot.kind === 'inline') return slot.server.restoreThreads(app, threads, why);
    if (threads < slot.pool.workerTarget) return;
    if (slot.pool.threads !== threads) this.log.info({ app }, `${app}: threads ${slot.pool.threads} -> ${threads} (${why})`);
    slot.pool.setThreads(threads);
  }

  /** An app run in-process has no workers: its table is empty. */
  async workerProcesses(app: string): Promise<WorkerProcessRow[]> {
    const slot = this.slotOf(app);
    if (slot.kind === 'inline') return [];
    await slot.pool.collect();
    return slot.pool.processRows();
  }

  async requestsNow(app: string): Promise<InFlightRequest[]> {
    const slot = this.slotOf(app);
    if (slot.kind === 'inline') {
      return slot.server.inFlight(IN_FLIGHT_REPORTED).map(([startMs, method, path, route, queued]) => ({ startMs, method, path, route, queued, worker: process.pid }));
    }
    await slot.pool.collect();
    return slot.pool.inFlight();
  }

  /**
   * Answers with a reload that started after this call, so that it ran the code as it is now:
   * asked while one runs, it waits for one follow-up reload, which every request arriving
   * meanwhile shares.
   */
  reload(app: string, source: string): Promise<ReloadResult> {
    const slot = this.slotOf(app);
    if (slot.kind === 'inline') return slot.server.reload(app);
    if (this.stopping) return Promise.reject(new errors.DOW_ERR_RELOAD(app, 'the server is stopping'));
    const { outcome, how } = (this.reloads.get(app) as ReloadQueue<ReloadResult>).ask(source);
    if (how === 'queued') this.log.info({ app, source }, `${app}: reload asked (${source}) while one runs: another follows once it ends`);
    else if (how === 'folded') this.log.info({ app, source }, `${app}: reload asked (${source}) while one runs: joins the one that follows`);
    return outcome;
  }

  /**
   * Starts or drains workers until `workers` serve. Not below 1 (an app with workers has no
   * in-process fallback) nor above the thread limit (each worker needs a slot): the operator
   * raises threads first, so that a scale never changes a limit behind their back.
   */
  setWorkers(app: string, workers: number, source: string): Promise<ScaleResult> {
    const slot = this.slotOf(app);
    if (slot.kind === 'inline') return slot.server.setWorkers(app);
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      return Promise.reject(new errors.DOW_ERR_WORKERS_RANGE(MAX_WORKERS, JSON.stringify(workers)));
    }
    if (this.stopping) return Promise.reject(new errors.DOW_ERR_SCALE(app, 'the server is stopping'));
    const { pool } = slot;
    if (workers > pool.threads) {
      return Promise.reject(new errors.DOW_ERR_SCALE(app, `${workers} workers need at least ${workers} threads (one slot each) and its limit is ${pool.threads}: raise threads first`));
    }
    return pool.scale(workers, source).then((result) => {
      if (result.oldWorkers !== result.newWorkers) this.recorder?.recordWorkersChange({ app, atMs: Date.now(), oldWorkers: result.oldWorkers, newWorkers: result.newWorkers, source });
      return result;
    });
  }

  /** Re-applies a worker count saved before a restart (persistLimits); not a change, so not audited. */
  async restoreWorkers(app: string, workers: number, why: string): Promise<void> {
    const slot = this.slots.get(app);
    if (!slot || slot.kind === 'inline') return;
    if (workers > slot.pool.threads) {
      this.log.warn({ app }, `${app}: ${workers} workers set at run time are not restored: its thread limit is ${slot.pool.threads}`);
      return;
    }
    this.log.info({ app }, `${app}: workers ${slot.pool.workerTarget} -> ${workers} (${why})`);
    await slot.pool.scale(workers, 'persistLimits');
  }

  /** SIGHUP: every app with workers at once; each app's reload is independent of the others. */
  async reloadAll(source: string): Promise<void> {
    const reloads: Array<Promise<unknown>> = [];
    for (const [name, slot] of this.slots) {
      if (slot.kind === 'inline') {
        this.log.warn({ app: name }, `${name}: runs in-process (workers: 0) and is not reloaded; restart the server for new code`);
        continue;
      }
      // Logged by the pool; the other apps still reload.
      reloads.push(this.reload(name, source).catch(() => {}));
    }
    await Promise.all(reloads);
  }

  get inFlight(): number {
    let n = 0;
    for (const slot of this.slots.values()) {
      if (slot.kind === 'inline') n += slot.server.connectionCount;
      else {
        const s = slot.pool.state();
        n += s.online + s.queued;
      }
    }
    return n;
  }

  private slotOf(app: string): Slot {
    const slot = this.slots.get(app);
    if (!slot) throw new errors.DOW_ERR_UNKNOWN_APP(JSON.stringify(app));
    return slot;
  }

  // ── stopping ─────────────────────────────────────────────────────────────────────────────

  /**
   * Stops accepting without resetting what is already queued in the kernel: the supervisor takes
   * over each listening socket, the workers close their copies, the backlog is accepted here and
   * handed to the draining workers, and only then is the socket closed. The stats port answers
   * until the very end.
   */
  stop(drainTimeoutMs: number): Promise<void> {
    this.stopDescriptorWatch?.();
    this.stopping ??= this.drain(drainTimeoutMs);
    return this.stopping;
  }

  private async drain(drainTimeoutMs: number): Promise<void> {
    for (const limit of this.adaptive.values()) limit.stop();
    const pools: Array<{ pool: WorkerPool; bound: BoundSocket }> = [];
    const inline: Server[] = [];
    for (const slot of this.slots.values()) {
      if (slot.kind === 'pool') pools.push(slot);
      else inline.push(slot.server);
    }
    const refusing = await Promise.all(pools.map(({ pool, bound }) => bound.acceptHere((socket) => pool.handOver(socket)).catch(() => null)));
    for (const { pool } of pools) pool.stopAccepting();
    const inlineClosed = Promise.all(inline.map((server) => server.close(drainTimeoutMs)));
    // Closed from the check phase right after a poll phase accepted what was queued and on its
    // way (listen-address.ts, sweepBacklog): the close resets whatever is still queued.
    if (pools.length > 0) await sweepBacklog(refusing.filter((port) => port !== null));
    else await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(pools.map(({ bound }) => bound.close()));
    await Promise.all([...pools.map(({ pool }) => pool.stop(drainTimeoutMs)), inlineClosed]);
    const stats = this.statsServer;
    if (stats) await new Promise<void>((resolve) => stats.close(() => resolve()));
    // Last, so that /readyz says "stopping" while the apps drain.
    await this.metricsServer?.close();
  }
}
