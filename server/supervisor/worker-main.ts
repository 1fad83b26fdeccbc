/**
 * @module worker-main
 * Entry point of a worker process: one app, served on the worker's copy of the supervisor's
 * listening socket, under the limit the supervisor grants. Takes orders only over IPC: signals
 * sent to the whole process group (Ctrl-C, systemd's KillMode=control-group) must not cut
 * requests short, since the supervisor drains its workers itself.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { AppStats } from '../host/app-stats.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { AppHost } from '../host/app-host.js';
import { describeHandler, loadApp, onFetchHandlerDetected } from '../host/app-loader.js';
import { CloseCode } from '../protocol/websocket-close.js';
import { createDemoApp } from '../host/demo-app.js';
import { appLogFile, createLogger, logFileFailed, reopenLogFiles } from '../logs/logger.js';
import { captureConsole } from '../logs/console-capture.js';
import { createProcessSampler } from '../metrics/process-figures.js';
import { Server } from '../listen/server.js';
import { DEFAULT_MAX_UPGRADES } from '../http/http-upgrades.js';
import { UpgradeLease } from '../http/upgrade-capacity.js';
import { attachRowRing } from '../native/row-ring.js';
import { createIpcRecorder, type IpcRecorder } from './ipc-recorder.js';
import { createRowsOutlet, type RowsOutlet } from './rows-outlet.js';
import { IN_FLIGHT_REPORTED, ROW_RING_FD, ROWS_FD, type FromWorker, type ToWorker, type WorkerFigures, type WorkerStartConfig } from './ipc-protocol.js';

/** Queue-pressure reports closer together than this are merged: the supervisor needs the trend. */
const PRESSURE_REPORT_MS = 10;
/** How long a worker whose supervisor vanished keeps draining before it exits. */
const ORPHAN_DRAIN_MS = 10_000;

function send(message: FromWorker, callback?: () => void): void {
  if (!process.connected) return callback?.();
  process.send?.(message, undefined, undefined, callback ? () => callback() : undefined);
}

function held(h: AppHost): number {
  return Math.max(h.limiter.running, h.limiter.limit);
}

function enterFolder(cwd: string): void {
  try {
    process.chdir(cwd);
  } catch (err) {
    throw new Error(`cannot enter cwd ${cwd}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** This worker: its app, its server, and what it last told the supervisor. */
class WorkerMain {
  private config: WorkerStartConfig | null = null;
  private handler: AppHandler | null = null;
  private server: Server | null = null;
  private host: AppHost | null = null;
  private recorder: IpcRecorder | null = null;
  /** Where its rows and its load go; null until the app loaded. */
  private outlet: RowsOutlet | null = null;
  private log: Logger = createLogger({ level: 'info' });
  private limit = 0;
  /** The supervisor's sequence number of `limit`, echoed in every report (see slot-ledger). */
  private limitSeq = 0;
  private draining = false;
  private recycleAsked = false;
  /** Set by the first error thrown outside any request: this worker is on its way out. */
  private broken = false;
  private lastPressure = false;
  private lastHeld = 0;
  private pressureTimer: NodeJS.Timeout | null = null;
  private readonly emptyStats = new AppStats();
  private readonly processSampler = createProcessSampler();
  /** Its part of the app's maxUpgrades, set once the app's config arrives (http only). */
  private upgradeLease: UpgradeLease | null = null;

  /** Takes the supervisor's orders and the process's events from here on. */
  run(): void {
    process.on('message', (message: ToWorker, handle?: unknown) => this.onMessage(message, handle));
    // The supervisor is gone (killed, crashed): finish what is running, then leave; never linger.
    process.on('disconnect', () => void this.drain(ORPHAN_DRAIN_MS, true));
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.on(signal, () => this.log.debug(`worker ${process.pid}: ${signal} ignored; the supervisor stops workers`));
    }
    // process.exit from the app (or a library): the rows and load of this turn, then figures whose
    // in-flight list names the request that called it, so it gets its 502 row. An IPC write to a
    // pipe with room is done at once, inside this synchronous handler.
    process.on('exit', () => {
      if (!process.connected) return;
      this.outlet?.flush();
      if (!this.draining) send({ type: 'exiting', figures: this.figures() });
    });
    // logrotate moved the file: the supervisor passes its SIGUSR1 on to each worker.
    process.on('SIGUSR1', () => reopenLogFiles());
    process.on('uncaughtException', (err) => this.onUncaught('uncaught exception', err));
    process.on('unhandledRejection', (reason) => this.onUncaught('unhandled rejection', reason));
  }

  private async start(cfg: WorkerStartConfig): Promise<void> {
    this.config = cfg;
    // Every line names the app and this worker (pid is the process's, worker says it is one).
    const file = appLogFile(cfg.log, cfg.app.name);
    const log = createLogger({ level: cfg.log.level, format: cfg.log.format, ...(file === undefined ? {} : { file }) })
      .child({ app: cfg.app.name, worker: process.pid });
    this.log = log;
    // Before the app is imported, so what it prints while loading is there too. With one file
    // for every process (or none), the output stays on the stdout and stderr the worker inherited.
    if (cfg.log.appFile !== undefined) captureConsole(log, logFileFailed);
    onFetchHandlerDetected((name) => log.warn(`${name}: the export returned a Response, so it is a fetch handler and is served as one from now on; set type: 'fetch' for the app to skip the detection (and its slower bridge)`));
    let handler: AppHandler;
    try {
      // Entered here rather than by fork(): Node resolves preloads (--import tsx) against the
      // working directory it starts in, and a folder the worker cannot enter is then a load
      // error naming it, not a spawn error naming node.
      if (cfg.cwd !== undefined) enterFolder(cfg.cwd);
      handler = cfg.source.kind === 'demo'
        ? { type: 'node', listener: createDemoApp(cfg.app.name) }
        : await loadApp(cfg.source.path, cfg.source.export, cfg.source.type, cfg.app.name, '/');
    } catch (err) {
      send({ type: 'failed', stage: 'load', message: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.handler = handler;
    log.info(cfg.source.kind === 'demo' ? `${cfg.app.name}: serving the demo app` : `${cfg.app.name}: serving ${cfg.source.path} as ${describeHandler(handler)}`);
    // The ring's header, or else the pipe, carries this worker's load (onLoadChange), with or
    // without the timing store.
    const ring = cfg.rowRing ? attachRowRing(ROW_RING_FD) : null;
    const outlet = createRowsOutlet({
      ring,
      pipeFd: ROWS_FD,
      takeRows: () => this.recorder?.flush(),
      onPipeLost: (err) => this.log.error(`worker ${process.pid}: timing rows cannot reach the supervisor: ${err.message}`),
    });
    this.outlet = outlet;
    if (cfg.store) {
      // Into the ring a row costs a copy, so it goes at once; on the pipe, at the end of the turn
      // or ahead of the next admission (rows-outlet.ts).
      this.recorder = createIpcRecorder({ recordPaths: cfg.store.recordPaths, atOnce: ring !== null, send: (frame) => outlet.rows(frame) });
    }
    send({ type: 'ready', kind: cfg.source.kind === 'demo' ? 'demo app' : describeHandler(handler) });
  }

  private async accept(handle: object): Promise<void> {
    const { config: cfg, handler } = this;
    if (!cfg || !handler || this.server) return;
    // The supervisor keeps the app's cap on upgraded connections across workers: this one leases its part.
    if (cfg.app.protocol === 'http') this.upgradeLease = new UpgradeLease(cfg.app.maxUpgrades ?? DEFAULT_MAX_UPGRADES, (message) => send(message));
    const server = new Server({
      listeners: [{ listen: cfg.listen, handle, processor: { app: { ...cfg.app, threads: 1, handler, ...(this.upgradeLease === null ? {} : { upgradeCapacity: this.upgradeLease }) } } }],
      limits: cfg.limits,
      logger: this.log,
      recorder: this.recorder,
      accessLog: cfg.log.access ?? null,
      routeFigures: cfg.routeFigures === true,
    });
    this.server = server;
    const host = server.apps.get(cfg.app.name) ?? null;
    this.host = host;
    if (host) {
      host.appThreads = cfg.appThreads;
      host.setThreads(this.limit);
      host.onLoadChange = this.onLoadChange;
    }
    await server.listen();
    send({ type: 'listening', io: this.host?.io ?? 'node' });
    this.log.debug(`worker ${process.pid} accepting on ${cfg.listen}`);
  }

  /**
   * Hot path (every admitted, queued and finished request): publishes the counts (the ring's
   * header: one store; the pipe: once per turn), and sends only what the supervisor must act on.
   */
  private readonly onLoadChange = (h: AppHost): void => {
    this.outlet?.load(h.limiter.running, h.limiter.waiting);
    const config = this.config;
    if (!this.recycleAsked && config !== null && config.maxRequests > 0 && h.stats.requests >= config.maxRequests) {
      this.recycleAsked = true;
      send({ type: 'recycle', reason: `served ${h.stats.requests} requests (maxRequests)` });
    }
    // Draining: give back every slot this worker's remaining requests will not need.
    if (this.draining && h.limiter.running + h.limiter.waiting < h.limiter.limit) h.setThreads(h.limiter.running + h.limiter.waiting);
    const nowHeld = held(h);
    if (nowHeld < this.lastHeld) {
      // Slots above a lowered limit just came free: another worker may be waiting for them.
      this.sendLoad(h);
      return;
    }
    const pressure = h.limiter.waiting > 0;
    if (pressure !== this.lastPressure && this.pressureTimer === null) {
      this.pressureTimer = setTimeout(() => {
        this.pressureTimer = null;
        const host = this.host;
        if (host && (host.limiter.waiting > 0) !== this.lastPressure) this.sendLoad(host);
      }, this.lastPressure ? PRESSURE_REPORT_MS : 0);
    }
  };

  private sendLoad(h: AppHost): void {
    this.lastHeld = held(h);
    this.lastPressure = h.limiter.waiting > 0;
    send({ type: 'load', load: { running: h.limiter.running, queued: h.limiter.waiting, held: this.lastHeld, seq: this.limitSeq } });
  }

  private figures(): WorkerFigures {
    const h = this.host;
    return {
      running: h?.limiter.running ?? 0,
      queued: h?.limiter.waiting ?? 0,
      held: h ? held(h) : this.limit,
      seq: this.limitSeq,
      stats: (h?.stats ?? this.emptyStats).toData(),
      rssBytes: process.memoryUsage.rss(),
      process: this.processSampler.figures(),
      rowsRecorded: this.recorder?.recorded ?? 0,
      inFlight: this.server?.inFlight(IN_FLIGHT_REPORTED) ?? [],
    };
  }

  private async drain(timeoutMs: number, stopping: boolean, upgradeTimeoutMs = timeoutMs): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    if (this.host) this.onLoadChange(this.host);
    // What its WebSockets' clients read at the deadline: an error here, or the server going
    // away, or this worker being replaced (reconnect at once, to a new worker).
    const closeCode = this.broken ? CloseCode.INTERNAL_ERROR : stopping ? CloseCode.GOING_AWAY : CloseCode.SERVICE_RESTART;
    await this.server?.close(timeoutMs, closeCode, upgradeTimeoutMs);
    await this.recorder?.close();
    // Figures last, after every row: the supervisor's counts then match what the store received.
    send({ type: 'drained', figures: this.figures() }, () => process.exit(0));
    if (!process.connected) process.exit(0);
  }

  private onMessage(message: ToWorker, handle?: unknown): void {
    switch (message.type) {
      case 'start':
        void this.start(message.config);
        break;
      case 'accept':
        // libuv reports a port taken by another program only at listen(), here, not at the
        // supervisor's bind.
        this.accept(handle as object).catch((err: NodeJS.ErrnoException) => {
          const message = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
          send({ type: 'failed', stage: 'listen', message }, () => process.exit(1));
        });
        break;
      case 'ping':
        send({ type: 'pong', seq: message.seq, figures: this.figures() });
        break;
      case 'limit': {
        this.limit = message.limit;
        this.limitSeq = message.seq;
        if (this.config) this.config.appThreads = message.appLimit;
        const host = this.host;
        if (host) {
          host.appThreads = message.appLimit;
          host.setThreads(this.limit);
          if (held(host) !== this.lastHeld) this.sendLoad(host);
        }
        break;
      }
      case 'conn': {
        const socket = handle as Socket | undefined;
        if (!socket) break;
        if (this.server && this.config) this.server.adopt(socket, this.config.app.name);
        else socket.destroy();
        break;
      }
      case 'stopAccepting':
        void this.server?.stopAccepting();
        break;
      case 'drain':
        void this.drain(message.timeoutMs, message.stopping, message.upgradeTimeoutMs);
        break;
      case 'upgradesGranted':
        this.upgradeLease?.granted(message.seq, message.count);
        break;
      case 'upgradesReclaim':
        if (this.upgradeLease !== null) this.upgradeLease.reclaim();
        else send({ type: 'upgradesReturned', count: 0 });
        break;
    }
  }

  /**
   * An error thrown outside any request (a timer, an event handler) or a rejection nobody handles
   * (Node's own default treats both as fatal) leaves the app in a state nobody knows. As Node and
   * every supervisor would: stop taking requests now, but let those already running finish (they
   * did nothing wrong, and the supervisor drains this worker within drainTimeout), then exit and be
   * replaced. The supervisor logs it, with the stack, and counts it as a restart.
   */
  private onUncaught(kind: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.broken) {
      this.log.error({ err }, `${kind} while this worker drains after an earlier one: ${message}`);
      return;
    }
    this.broken = true;
    void this.server?.stopAccepting();
    if (process.connected) send({ type: 'fatal', message: `${kind}: ${message}`, stack: err instanceof Error ? err.stack ?? message : message });
    else this.log.error({ err }, `${kind} outside any request, with the supervisor gone: this worker finishes what it runs and exits: ${message}`);
  }
}

new WorkerMain().run();
