/**
 * @module worker-pool
 * One app's group of worker processes: starts them, shares the app's thread limit among them,
 * replaces a dead one, recycles one past maxRequests or maxMemory, and reloads all of them with
 * fresh code. What each worker is for is its role (worker-role); hangs, backoff and figures have
 * their own files.
 */
import type { Socket } from 'node:net';
import { setPriority } from 'node:os';
import { errors } from '../../shared/errors.js';
import type { InFlightRequest, ReloadResult, ScaleResult, WorkerProcessRow } from '../../shared/runtime-control.js';
import type { AppState } from '../metrics/stats-report.js';
import { HangWatchdog, HEARTBEAT_MS, heartbeatMsFor } from './hang-watchdog.js';
import { PoolFigures, type WorkerProcessInfo } from './pool-figures.js';
import { PoolWorkers } from './pool-workers.js';
import { RestartScheduler } from './restart-scheduler.js';
import { reloadWorkers } from './worker-reload.js';
import { scaleWorkers } from './worker-scale.js';
import type { PoolOptions } from './pool-options.js';
import type { WorkerEvents, WorkerProcess } from './worker-process.js';
import * as roles from './worker-role.js';
import type { PoolWorker } from './worker-role.js';

/** Niceness of workers draining during a stop (0 is the default; 19 the lowest priority). */
const DRAINING_NICENESS = 19;
/** Past drainTimeout, a worker gets this long to flush its rows before it is killed. */
const EXIT_GRACE_MS = 2000;

export class WorkerPool {
  private readonly live: PoolWorkers;
  private readonly figures: PoolFigures;
  private readonly watchdog: HangWatchdog;
  private readonly restarts: RestartScheduler;
  /** The reload or scale under way: each starts after the one before ended, so they never mix workers. */
  private change: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: PoolOptions) {
    this.live = new PoolWorkers(o, this.events);
    this.figures = new PoolFigures(o, heartbeatMsFor(o.hangTimeoutMs));
    this.watchdog = new HangWatchdog(o, this.live, this.figures);
    this.restarts = new RestartScheduler(o.name, o.log, () => this.live.spawn('replacement'), () => this.figures.startError !== null);
  }

  /** Live workers by id. */
  get workers(): ReadonlyMap<number, PoolWorker> {
    return this.live.workers;
  }

  get name(): string {
    return this.o.name;
  }

  get threads(): number {
    return this.live.ledger.total;
  }

  /** Rows a worker recorded but never delivered (it died first). */
  get rowsLost(): number {
    return this.figures.rowsLost;
  }

  /** The last fork failure, until a worker starts again: /readyz says why the app is down. */
  get startError(): string | null {
    return this.figures.startError;
  }

  /** What the app's export was recognised as ("Express app"), from a worker that loaded it. */
  get kind(): string | null {
    for (const { process: w } of this.workers.values()) if (w.kind !== null) return w.kind;
    return null;
  }

  /** Which I/O its workers serve with, as one that listens reported it (all choose alike). */
  get io(): 'native' | 'node' | null {
    for (const { process: w } of this.workers.values()) if (w.io !== null) return w.io;
    return null;
  }

  /** Where its workers run: the app's `cwd` as of the last reload, or the supervisor's. */
  get cwd(): string {
    return this.live.environment?.cwd ?? process.cwd();
  }

  /** The number of workers asked for, in the config or by a scale (the live count dips during a restart). */
  get workerTarget(): number {
    return this.live.target;
  }

  /** >0 while a crash loop holds the next worker back: ms left. */
  get backoffMs(): number {
    return this.restarts.backoffMs;
  }

  /** Starts every worker; rejects with the first load error (and leaves nothing running). */
  async start(): Promise<void> {
    const fresh = Array.from({ length: this.o.workers }, () => this.live.spawn('loading'));
    try {
      await Promise.all(fresh.map((w) => this.live.whenReady(w)));
    } catch (err) {
      for (const w of fresh) this.live.discard(w);
      throw err;
    }
    for (const w of fresh) this.live.admit(w);
    // Until one worker has called listen(), the kernel refuses connections: start() is done after.
    try {
      await Promise.all(fresh.map((w) => w.process.listening));
    } catch (err) {
      for (const w of fresh) this.live.discard(w);
      throw new errors.DOW_ERR_LISTEN(this.o.listen, (err as Error).message);
    }
    this.watchdog.start();
  }

  setThreads(threads: number): void {
    this.live.ledger.setTotal(threads);
    this.live.applyPlan();
    // A worker whose share did not change still names the app's limit in its 503 lines.
    for (const { process: w } of this.workers.values()) w.setAppLimit(threads);
  }

  /** New workers with fresh code first; the old ones drain only once every new one is ready. */
  reload(source: string): Promise<ReloadResult> {
    return this.oneAtATime(() => reloadWorkers(this.live, { ...this.o, workers: this.live.target }, source));
  }

  /** Adds workers (serving before the call resolves) or drains the surplus. */
  scale(workers: number, source: string): Promise<ScaleResult> {
    return this.oneAtATime(() => scaleWorkers(this.live, this.o, workers, source));
  }

  private oneAtATime<T>(run: () => Promise<T>): Promise<T> {
    const next = this.change.then(run);
    this.change = next.catch(() => {});
    return next;
  }

  /** Hands a connection the supervisor accepted during a stop to the least busy worker. */
  handOver(socket: Socket): void {
    let best: WorkerProcess | null = null;
    let bestLoad = Infinity;
    for (const { process: w } of this.workers.values()) {
      if (w.state !== 'accepting' && w.state !== 'draining') continue;
      const load = (w.figures?.running ?? 0) + (w.figures?.queued ?? 0);
      if (load < bestLoad) {
        best = w;
        bestLoad = load;
      }
    }
    if (best) best.handOver(socket);
    else socket.destroy();
  }

  stopAccepting(): void {
    this.live.markStopping();
    this.restarts.stop();
    for (const { process: w } of this.workers.values()) {
      w.stopAccepting();
      // The supervisor now accepts the backlog and then closes the socket; whatever it has not
      // accepted by the close is reset. Busy workers must not preempt it there, so they finish
      // their requests at the lowest priority (raising one's own children's niceness needs no
      // privilege).
      try {
        setPriority(w.pid, DRAINING_NICENESS);
      } catch {
        // Gone already, or a platform without priorities.
      }
    }
  }

  /** Drains every worker (up to `drainTimeoutMs`), waits for their rows, kills stragglers. */
  async stop(drainTimeoutMs: number): Promise<void> {
    this.live.markStopping();
    this.restarts.stop();
    this.watchdog.stop();
    const all = [...this.workers.values()];
    for (const w of all) this.live.drain(w, drainTimeoutMs);
    const killer = setTimeout(() => {
      for (const { process: w } of all) {
        if (w.alive) this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: worker ${w.pid} did not stop within ${drainTimeoutMs + EXIT_GRACE_MS} ms: killed`);
        w.kill();
      }
    }, drainTimeoutMs + EXIT_GRACE_MS);
    await Promise.all(all.map((w) => this.live.whenExited(w)));
    clearTimeout(killer);
  }

  collect(): Promise<void> {
    return this.figures.collect(this.workers.values());
  }

  /** Requests running or queued in its workers, oldest first, as the last collect() left them. */
  inFlight(): InFlightRequest[] {
    return this.figures.inFlight(this.workers.values());
  }

  readyWorkers(): number {
    return this.figures.readyWorkers(this.workers.values());
  }

  /** Its workers for the dashboard's table, as the last collect() left them. */
  processRows(): WorkerProcessRow[] {
    return this.figures.processRows(this.workers.values());
  }

  processes(): WorkerProcessInfo[] {
    return this.figures.processes(this.workers.values());
  }

  state(): AppState {
    return this.figures.state(this.workers.values(), this.live.ledger.total, this.restarts.backoffMs);
  }

  private readonly events: WorkerEvents = {
    ready: (p) => {
      const w = this.live.recordOf(p);
      this.figures.startError = null;
      const start = this.live.takeStart(w);
      if (start) start.resolve();
      // A replacement (crash, hang, recycle) starts serving as soon as it is ready.
      else if (!this.live.stopping) this.live.admit(w);
      else this.live.drain(w, 0);
    },
    failed: (p, message, stage) => {
      const w = this.live.recordOf(p);
      roles.failed(w);
      const start = this.live.takeStart(w);
      // A replacement for a dead worker is tried again (see roles.retries); others are not.
      p.kill();
      if (stage === 'listen') return this.o.log.error({ app: this.name, worker: p.pid }, `${this.name}: worker ${p.pid} cannot listen on ${this.o.listen}: ${message}`);
      // The worker's own message (e.g. "app shop: cannot load module …") is what a user needs.
      if (start) start.reject(Object.assign(new errors.DOW_ERR_WORKER_START(this.name, p.pid, message), { workerMessage: message }));
      else this.o.log.error({ app: this.name, worker: p.pid }, `${this.name}: replacement worker ${p.pid} failed to start: ${message}`);
    },
    exit: (p, code, signal) => this.onExit(this.live.recordOf(p), code, signal),
    spawnFailed: (p, err) => this.onSpawnFailed(this.live.recordOf(p), err),
    load: (p, load) => {
      this.watchdog.answered(this.live.recordOf(p));
      this.live.ledger.report(p.id, load);
      this.live.applyPlan();
    },
    rows: (_p, batch) => this.o.onRows(batch),
    upgradesWanted: (p, seq) => this.live.upgradesWanted(this.live.recordOf(p), seq),
    upgradesReturned: (p, count) => this.live.upgradesReturned(this.live.recordOf(p), count),
    rowsBroken: (p, err) => this.o.log.error({ app: this.name, worker: p.pid }, `${this.name}: worker ${p.pid}: its timing rows are lost from here on: ${err.message}`),
    recycle: (p, reason) => this.recycle(this.live.recordOf(p), reason),
    fatal: (p, message, stack) => this.replaceBroken(this.live.recordOf(p), message, stack),
    figures: (p, figures) => {
      const w = this.live.recordOf(p);
      const back = this.watchdog.answered(w);
      this.live.ledger.report(p.id, figures);
      if (back) this.live.applyPlan();
      if (this.o.maxMemoryMiB > 0 && figures.rssBytes > this.o.maxMemoryMiB * 1024 * 1024 && p.state === 'accepting') {
        this.recycle(w, `RSS ${Math.round(figures.rssBytes / 1024 / 1024)} MiB above maxMemory ${this.o.maxMemoryMiB} MiB`);
      }
    },
  };

  private onExit(w: PoolWorker, code: number | null, signal: NodeJS.Signals | null): void {
    this.live.forget(w);
    const role = w.role;
    const standingBy = roles.standbyOf(role);
    if (standingBy) {
      // A standby that was not needed, or could not load: the worker it stood by for goes on.
      if (standingBy.silence.standby?.worker === w) standingBy.silence.standby = null;
      w.start = null;
      return;
    }
    const start = this.live.takeStart(w);
    this.figures.retire(w.process);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (start) return start.reject(new errors.DOW_ERR_WORKER_START(this.name, w.process.pid, `exited before it was ready (${how})`));
    switch (role.name) {
      case 'retiring':
        // Drained as asked; one that died instead is not replaced either: its successor serves.
        if (code === 0) return this.live.applyPlan();
        return this.died(w, code, signal, { replace: false, event: 'restart' });
      case 'failed':
        // Not wanted, or could not load or listen: only a replacement's failure is tried again.
        if (!role.retry) return this.live.applyPlan();
        return this.died(w, code, signal, { replace: !role.retiring, event: null });
      case 'hung':
        return this.died(w, code, signal, { replace: !role.retiring, event: 'hang', detail: role.detail });
      case 'loading':
      case 'replacement':
      case 'serving':
        return this.died(w, code, signal, { replace: true, event: 'restart' });
      case 'standby':
        return; // unlinked above
    }
  }

  /**
   * It died with requests inside: their clients got an error from the front end (nginx: 502).
   * `event`: the row it gets (none for a replacement that failed to start, already logged).
   */
  private died(w: PoolWorker, code: number | null, signal: NodeJS.Signals | null, end: { replace: boolean; event: 'restart' | 'hang' | null; detail?: string }): void {
    const p = w.process;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    // Its load as it died is known once all it sent is read: its last load frame (pipe) and the
    // figures naming its requests (IPC) may still be on their way when 'exit' comes.
    const heldConnections = w.silence.heldConnections;
    const diedAtMs = Date.now();
    void p.settled.then(() => this.figures.recordLostRequests(p, heldConnections, diedAtMs));
    const lived = Date.now() - p.startedAt;
    if (end.event !== 'hang') {
      this.o.log.error({ app: this.name, worker: p.pid, code, signal }, `${this.name}: worker ${p.pid} died (${how}) after ${lived} ms`);
    }
    this.live.applyPlan();
    if (this.live.stopping) return;
    if (end.event !== null) {
      if (end.replace) this.figures.restarts++;
      this.o.onEvent({ app: this.name, atMs: Date.now(), kind: end.event, pid: p.pid, detail: end.detail ?? how, source: 'supervisor' });
    }
    const standby = w.silence.standby;
    if (end.replace && standby?.worker.process.alive) {
      // Loaded while the worker was going silent: it takes over now. If it dies or fails to load
      // instead, its own exit starts the next one (with backoff).
      roles.tookOver(standby.worker);
      standby.ready.then(() => this.live.admit(standby.worker), () => {});
    } else if (end.replace) this.restarts.schedule(lived);
    else if (standby) this.live.discard(standby.worker);
  }

  /**
   * fork() failed: there is no process, so nothing to wait for or kill. A start, reload or
   * recycle waiting for it fails as for a worker that could not load; a replacement for a dead
   * worker counts as a quick exit, so the next try backs off as a crash loop does.
   */
  private onSpawnFailed(w: PoolWorker, err: NodeJS.ErrnoException): void {
    this.live.forget(w);
    this.figures.startFailures++;
    const failure = new errors.DOW_ERR_WORKER_SPAWN(this.name, err.code ?? err.message, err.message);
    this.figures.startError = failure.message;
    const start = this.live.takeStart(w);
    this.o.log.error({ app: this.name, code: failure.code, errno: err.code }, failure.message);
    const standingBy = roles.standbyOf(w.role);
    if (standingBy) {
      // Not tried again for this silence: the hang kill's replacement backs off instead.
      standingBy.silence.standbyFailed = true;
      if (standingBy.silence.standby?.worker === w) standingBy.silence.standby = null;
      return;
    }
    if (start) return start.reject(failure);
    if (roles.retries(w.role) && !this.live.stopping) this.restarts.schedule(0);
  }

  /**
   * A worker that threw outside any request runs on with whatever state the error broke, so it
   * has already stopped accepting: it finishes what it runs (drainTimeout) and exits, and a
   * replacement starts at once, or after the crash-loop backoff if its predecessors died young.
   */
  private replaceBroken(w: PoolWorker, message: string, stack: string): void {
    const p = w.process;
    if (roles.isRetiring(w.role) || this.live.stopping) return;
    if (p.state !== 'accepting') return p.kill(); // loading or standing by: a failed start
    const broken = new errors.DOW_ERR_WORKER_UNCAUGHT(this.name, p.pid, message);
    this.o.log.error({ app: this.name, worker: p.pid, code: broken.code, stack }, broken.message);
    this.live.retire(w);
    this.figures.restarts++;
    this.o.onEvent({ app: this.name, atMs: Date.now(), kind: 'restart', pid: p.pid, detail: message, source: 'supervisor' });
    this.restarts.schedule(Date.now() - p.startedAt);
  }

  /** Graceful replacement: the new worker serves before the old one stops accepting. */
  private recycle(w: PoolWorker, reason: string): void {
    const p = w.process;
    if (w.role.name !== 'serving' || w.role.recycling || p.state !== 'accepting' || this.live.stopping) return;
    roles.setRecycling(w, true);
    this.o.log.info({ app: this.name, worker: p.pid }, `${this.name}: recycling worker ${p.pid}: ${reason}`);
    const next = this.live.spawn('loading');
    this.live.whenReady(next).then(
      async () => {
        if (this.live.stopping) return this.live.drain(next, 0);
        this.live.admit(next);
        await next.process.listening;
        this.live.retire(w);
        this.figures.restarts++;
        this.o.onEvent({ app: this.name, atMs: Date.now(), kind: 'recycle', pid: p.pid, detail: reason, source: 'supervisor' });
      },
      (err: Error) => {
        // The old worker goes on; a later report may try again.
        setTimeout(() => roles.setRecycling(w, false), HEARTBEAT_MS * 30).unref();
        this.o.log.error({ app: this.name, worker: p.pid }, `${this.name}: cannot recycle worker ${p.pid}: ${err.message}`);
      },
    );
  }
}
