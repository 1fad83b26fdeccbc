/**
 * @module worker-pool
 * One app's group of worker processes: starts them, shares the app's thread limit among them,
 * restarts a crashed or hung one (backing off in a crash loop), replaces one past maxRequests or
 * maxMemory, reloads all of them with fresh code, and sums their figures for the stats port.
 */
import type { Socket } from 'node:net';
import { setPriority } from 'node:os';
import type { Logger } from 'pino';
import { errors } from '../../shared/errors.js';
import type { AppSnapshot, ReloadResult } from '../../shared/runtime-control.js';
import { Outcome, type RuntimeEvent, type TimingRow } from '../../shared/timing-row.js';
import { AppStats } from '../app-stats.js';
import type { ProcessFigures } from '../process-figures.js';
import type { AppState } from '../stats-report.js';
import type { PackedBatch } from '../store/packed-batch.js';
import type { WorkerFigures, WorkerStartConfig } from './ipc-protocol.js';
import { countOpenConnections } from './open-connections.js';
import { crashBackoffMs, maxRequestsWithJitter } from './restart-policy.js';
import { SlotLedger } from './slot-ledger.js';
import { WorkerProcess, type WorkerCredentials, type WorkerEvents } from './worker-process.js';

export interface WorkerProcessInfo {
  slot: number;
  pid: number;
  state: string;
  rssBytes: number;
  process: ProcessFigures;
}

export interface PoolOptions {
  name: string;
  /** The address as shown (port 0 resolved). */
  listen: string;
  /** The bound address, to find a hung worker's connections in the kernel's tables. */
  address: { port: number } | { path: string } | null;
  mount: string;
  /** The listening socket, bound by the supervisor, shared by every worker of this app. */
  handle: object;
  workers: number;
  threads: number;
  hangTimeoutMs: number;
  maxRequests: number;
  maxMemoryMiB: number;
  /** How long an old worker may take to finish its requests after a reload or a recycle. */
  drainTimeoutMs: number;
  /** `user`/`group`: each worker is forked as this user (null: as the supervisor runs). */
  credentials?: WorkerCredentials | null;
  /** What each worker is started with (maxRequests and appThreads are filled in per worker). */
  startConfig: Omit<WorkerStartConfig, 'maxRequests' | 'appThreads'>;
  log: Logger;
  onRows(batch: PackedBatch): void;
  onRow(row: TimingRow): void;
  onEvent(event: RuntimeEvent): void;
}

/** How often the supervisor asks each worker for its figures, and checks for hangs. */
export const HEARTBEAT_MS = 1000;
const HANG_CHECK_MS = 250;
/**
 * A worker silent for hangTimeout less this long gets a standby: a replacement that loads the
 * app meanwhile, so that serving resumes as soon as the hung one is killed, not a Node start
 * and an app load later. Discarded if the worker answers after all.
 */
const STANDBY_LEAD_MS = 1500;
/**
 * A figures request (stats port, dashboard) waits this long for a worker's answer; a worker that
 * has missed its last heartbeat, or left any ping unanswered this long, is not waited for at all:
 * a hang slows only the requests in the first 50 ms of its first unanswered ping, never the
 * stream of polls until the next heartbeat (the port must answer within 100 ms, on a busy
 * machine, scheduling included).
 */
export const COLLECT_TIMEOUT_MS = 50;
/** How long a starting worker (loading the app) may go without answering before it is killed. */
const START_TIMEOUT_MS = 60_000;
/** Niceness of workers draining during a stop (0 is the default; 19 the lowest priority). */
const DRAINING_NICENESS = 19;
/** How long a hung worker's kill may wait for the count of the connections it holds. */
const HELD_COUNT_WAIT_MS = 1000;
/** Past drainTimeout, a worker gets this long to flush its rows before it is killed. */
const EXIT_GRACE_MS = 2000;
/**
 * What the client of a request inside a dying worker got: the front end saw the connection close
 * without a response (nginx: "upstream prematurely closed connection", 502).
 */
const WORKER_LOST_STATUS = 502;

export class WorkerPool {
  readonly ledger: SlotLedger;
  readonly workers = new Map<number, WorkerProcess>();
  restarts = 0;
  hangs = 0;
  /** Rows a worker recorded but never delivered (it died first). */
  rowsLost = 0;
  /** Workers that could not even be forked (EMFILE, EAGAIN, ENOMEM): each one retried with backoff. */
  startFailures = 0;
  /** The last fork failure, until a worker starts again: /readyz says why the app is down. */
  startError: string | null = null;
  /** Figures of workers that are gone, so that totals never go backwards. */
  private readonly retired = new AppStats();
  private nextId = 1;
  private crashStreak = 0;
  private pendingRestarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartAt = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly starts = new Map<WorkerProcess, { resolve(): void; reject(err: Error): void }>();

  /** Short enough to catch a hang well within hangTimeout, never more than once a second. */
  private readonly heartbeatMs: number;
  /** How often silences are checked: a hang is acted on within this of hangTimeout. */
  private readonly checkMs: number;
  private lastPingAt = -Infinity;
  /** When the last figures collection (stats port, metrics, dashboard) started. */
  private lastCollectAt = -Infinity;

  constructor(private readonly o: PoolOptions) {
    this.ledger = new SlotLedger(o.threads);
    this.heartbeatMs = o.hangTimeoutMs > 0 ? Math.min(HEARTBEAT_MS, Math.max(50, Math.round(o.hangTimeoutMs / 4))) : HEARTBEAT_MS;
    this.checkMs = Math.min(HANG_CHECK_MS, this.heartbeatMs);
  }

  get name(): string {
    return this.o.name;
  }

  get threads(): number {
    return this.ledger.total;
  }

  /** What the app's export was recognised as ("Express app"), from a worker that loaded it. */
  get kind(): string | null {
    for (const w of this.workers.values()) if (w.kind !== null) return w.kind;
    return null;
  }

  /** The configured number of workers (the live count dips during a restart). */
  get workerTarget(): number {
    return this.o.workers;
  }

  /** Starts every worker; rejects with the first load error (and leaves nothing running). */
  async start(): Promise<void> {
    const fresh = Array.from({ length: this.o.workers }, () => this.spawn());
    try {
      await Promise.all(fresh.map((w) => this.whenReady(w)));
    } catch (err) {
      for (const w of fresh) this.discard(w);
      throw err;
    }
    for (const w of fresh) this.admit(w);
    // Until one worker has called listen(), the kernel refuses connections: start() is done after.
    try {
      await Promise.all(fresh.map((w) => w.listening));
    } catch (err) {
      for (const w of fresh) this.discard(w);
      throw new errors.DOW_ERR_LISTEN(this.o.listen, (err as Error).message);
    }
    this.heartbeat = setInterval(() => this.tick(), this.checkMs);
    this.heartbeat.unref();
  }

  setThreads(threads: number): void {
    this.ledger.setTotal(threads);
    this.applyPlan();
    // A worker whose share did not change still names the app's limit in its 503 lines.
    for (const w of this.workers.values()) w.setAppLimit(threads);
  }

  /** New workers with fresh code first; the old ones drain only once every new one is ready. */
  async reload(source: string): Promise<ReloadResult> {
    const started = performance.now();
    const old = this.accepting();
    const fresh = Array.from({ length: this.o.workers }, () => this.spawn());
    try {
      await Promise.all(fresh.map((w) => this.whenReady(w)));
    } catch (err) {
      for (const w of fresh) this.discard(w);
      const why = err instanceof Error ? err.message : String(err);
      this.o.log.error({ app: this.name }, `${this.name}: reload failed, the old workers go on serving: ${why}`);
      throw new errors.DOW_ERR_RELOAD(this.name, why);
    }
    for (const w of fresh) this.admit(w);
    try {
      await Promise.all(fresh.map((w) => w.listening));
    } catch (err) {
      for (const w of fresh) this.retire(w);
      throw new errors.DOW_ERR_RELOAD(this.name, (err as Error).message);
    }
    // Every worker serving the old code goes, including a replacement that took over from a
    // crashed or hung one while the new workers loaded.
    const retired = this.accepting().filter((w) => !fresh.includes(w));
    for (const w of retired) this.retire(w);
    await Promise.all(retired.map((w) => this.whenExited(w)));
    for (const w of old) if (!retired.includes(w)) retired.push(w);
    const result = { app: this.name, oldPids: retired.map((w) => w.pid), newPids: fresh.map((w) => w.pid), tookMs: Math.round(performance.now() - started) };
    this.o.log.info({ ...result, source }, `${this.name}: reloaded (${source}): workers ${result.oldPids.join(' ')} -> ${result.newPids.join(' ')} in ${result.tookMs} ms`);
    this.o.onEvent({ app: this.name, atMs: Date.now(), kind: 'reload', pid: 0, detail: `workers ${result.oldPids.join(' ')} -> ${result.newPids.join(' ')}`, source });
    return result;
  }

  /** Hands a connection the supervisor accepted during a stop to the least busy worker. */
  handOver(socket: Socket): void {
    let best: WorkerProcess | null = null;
    let bestLoad = Infinity;
    for (const w of this.workers.values()) {
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
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const w of this.workers.values()) {
      w.stopAccepting();
      // The supervisor now accepts the backlog and then closes the socket; whatever completes
      // its handshake between its last accept and the close is reset. Busy workers must not
      // preempt it there, so they finish their requests at the lowest priority (raising one's own
      // children's niceness needs no privilege).
      try {
        setPriority(w.pid, DRAINING_NICENESS);
      } catch {
        // Gone already, or a platform without priorities.
      }
    }
  }

  /** Drains every worker (up to `drainTimeoutMs`), waits for their rows, kills stragglers. */
  async stop(drainTimeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const all = [...this.workers.values()];
    for (const w of all) w.drain(drainTimeoutMs);
    const killer = setTimeout(() => {
      for (const w of all) {
        if (w.alive) this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: worker ${w.pid} did not stop within ${drainTimeoutMs + EXIT_GRACE_MS} ms: killed`);
        w.kill();
      }
    }, drainTimeoutMs + EXIT_GRACE_MS);
    await Promise.all(all.map((w) => this.whenExited(w)));
    clearTimeout(killer);
  }

  /**
   * Fresh figures from every live worker. A hung one keeps its last, which predate the request
   * it is stuck in: state() then takes its running and queued from its ring (see liveLoad).
   */
  async collect(): Promise<void> {
    const now = performance.now();
    this.lastCollectAt = now;
    // Only workers that serve: one loading the app (a standby, a replacement) has no figures to
    // give yet and may not answer while its code compiles.
    const responsive = [...this.workers.values()].filter((w) => (w.state === 'accepting' || w.state === 'draining') && now - w.lastAnswerAt < this.heartbeatMs + COLLECT_TIMEOUT_MS && w.unansweredFor(now) < COLLECT_TIMEOUT_MS);
    await Promise.all(responsive.map((w) => w.collect(COLLECT_TIMEOUT_MS)));
  }

  /**
   * Accepting workers whose event loop answered within two heartbeats: what /readyz asks, from
   * what the heartbeats already brought (no round trip per poll).
   */
  readyWorkers(): number {
    const now = performance.now();
    let n = 0;
    for (const w of this.workers.values()) if (w.state === 'accepting' && now - w.lastAnswerAt < 2 * this.heartbeatMs + COLLECT_TIMEOUT_MS) n++;
    return n;
  }

  /** >0 while a crash loop holds the next worker back: ms left. */
  get backoffMs(): number {
    return this.restartTimer ? Math.max(0, Math.round(this.restartAt - Date.now())) : 0;
  }

  /** Every live worker's slot, pid and last reported figures, for the metrics listener. */
  processes(): WorkerProcessInfo[] {
    const out: WorkerProcessInfo[] = [];
    for (const w of this.workers.values()) {
      if (w.alive && w.figures) out.push({ slot: w.slot, pid: w.pid, state: w.state, rssBytes: w.figures.rssBytes, process: w.figures.process });
    }
    return out.sort((a, b) => a.slot - b.slot);
  }

  state(): AppState {
    const stats = new AppStats();
    stats.merge(this.retired.toData());
    let online = 0;
    let queued = 0;
    const pids: number[] = [];
    for (const w of this.workers.values()) {
      const merged = w.figures !== null && this.mergeInto(stats, w);
      const serving = w.state === 'accepting' || w.state === 'draining';
      const load = serving ? this.liveLoad(w) : null;
      if (load !== null || merged) {
        online += (load ?? (w.figures as WorkerFigures)).running;
        queued += (load ?? (w.figures as WorkerFigures)).queued;
      }
      if (serving) pids.push(w.pid);
    }
    const snapshot: AppSnapshot & { startFailures: number } = {
      name: this.name,
      listen: this.o.listen,
      mount: this.o.mount,
      threads: this.ledger.total,
      online,
      queued,
      requests: stats.requests,
      rejected: stats.rejected,
      errors: stats.errors,
      timeouts: stats.timeouts,
      aborted: stats.aborted,
      workers: pids.length,
      restarts: this.restarts,
      hangs: this.hangs,
      workerPids: pids,
      backoffMs: this.restartTimer ? Math.max(0, Math.round(this.restartAt - Date.now())) : 0,
      startFailures: this.startFailures,
    };
    return { ...snapshot, stats };
  }

  /**
   * A serving worker that did not answer the last collection: its requests running and queued
   * as it last put them in its ring, since its last figures predate the request it is stuck in.
   * Null for one that answered, and without a ring (io 'node', no native core): then the stale
   * figures are all there is, and a hung request shows as online=0 until the hang kill.
   */
  private liveLoad(w: WorkerProcess): { running: number; queued: number } | null {
    if (w.figuresAt >= this.lastCollectAt) return null;
    return w.ringLoad(this.o.startConfig.app.queue);
  }

  /** Figures come from app processes: a malformed one is logged and left out, never thrown. */
  private mergeInto(stats: AppStats, w: WorkerProcess): boolean {
    try {
      stats.merge((w.figures as WorkerFigures).stats);
      return true;
    } catch (err) {
      this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: worker ${w.pid} sent unusable figures: ${(err as Error).message}`);
      w.figures = null;
      return false;
    }
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────────────────

  private spawn(restartOnFailure = false): WorkerProcess {
    const config = { ...this.o.startConfig, appThreads: this.ledger.total, maxRequests: maxRequestsWithJitter(this.o.maxRequests, Math.random()) };
    const taken = new Set([...this.workers.values()].map((other) => other.slot));
    const w = new WorkerProcess(this.nextId++, config, this.events, this.o.credentials ?? null);
    while (taken.has(w.slot)) w.slot++;
    w.restartOnFailure = restartOnFailure;
    this.workers.set(w.id, w);
    this.ledger.add(w.id);
    return w;
  }

  /** Ends a worker that is not wanted (a failed start or reload): not a crash, no restart. */
  private discard(w: WorkerProcess): void {
    w.endedBy ??= 'failed';
    w.restartOnFailure = false;
    w.kill();
  }

  private admit(w: WorkerProcess): void {
    if (!w.alive) return;
    // A replacement that finished loading after a reload or a recycle already filled its place.
    if (w.restartOnFailure && this.accepting().length >= this.o.workers) return this.discard(w);
    w.accept(this.o.handle);
    this.ledger.setAccepting(w.id, true);
    this.applyPlan();
  }

  private retire(w: WorkerProcess): void {
    this.ledger.setAccepting(w.id, false);
    w.drain(Math.max(this.o.drainTimeoutMs, this.o.startConfig.app.requestTimeoutMs));
    this.applyPlan();
  }

  private accepting(): WorkerProcess[] {
    return [...this.workers.values()].filter((w) => w.state === 'accepting');
  }

  private whenReady(w: WorkerProcess): Promise<void> {
    if (w.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => this.starts.set(w, { resolve, reject }));
  }

  /** Exited, and every row it wrote read: the store is closed after this. */
  private async whenExited(w: WorkerProcess): Promise<void> {
    await w.exit;
    await w.rowsRead;
  }

  private applyPlan(): void {
    for (const [id, limit, seq] of this.ledger.plan()) {
      this.workers.get(id)?.setLimit(limit, seq, this.ledger.total);
    }
  }

  private readonly events: WorkerEvents = {
    ready: (w) => {
      this.startError = null;
      const start = this.starts.get(w);
      this.starts.delete(w);
      if (start) start.resolve();
      // A replacement (crash, hang, recycle) starts serving as soon as it is ready.
      else if (!this.stopping) this.admit(w);
      else w.drain(0);
    },
    failed: (w, message, stage) => {
      const start = this.starts.get(w);
      this.starts.delete(w);
      // A replacement for a dead worker is tried again (restartOnFailure); others are not.
      w.kill();
      if (stage === 'listen') return this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: worker ${w.pid} cannot listen on ${this.o.listen}: ${message}`);
      // The worker's own message (e.g. "app shop: cannot load module …") is what a user needs.
      if (start) start.reject(Object.assign(new errors.DOW_ERR_WORKER_START(this.name, w.pid, message), { workerMessage: message }));
      else this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: replacement worker ${w.pid} failed to start: ${message}`);
    },
    exit: (w, code, signal) => this.onExit(w, code, signal),
    spawnFailed: (w, err) => this.onSpawnFailed(w, err),
    load: (w, load) => {
      this.answered(w);
      this.ledger.report(w.id, load);
      this.applyPlan();
    },
    rows: (_w, batch) => this.o.onRows(batch),
    rowsBroken: (w, err) => this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: worker ${w.pid}: its timing rows are lost from here on: ${err.message}`),
    recycle: (w, reason) => this.recycle(w, reason),
    fatal: (w, message, stack) => this.replaceBroken(w, message, stack),
    figures: (w, figures) => {
      const back = this.answered(w);
      this.ledger.report(w.id, figures);
      if (back) this.applyPlan();
      if (this.o.maxMemoryMiB > 0 && figures.rssBytes > this.o.maxMemoryMiB * 1024 * 1024 && w.state === 'accepting') {
        this.recycle(w, `RSS ${Math.round(figures.rssBytes / 1024 / 1024)} MiB above maxMemory ${this.o.maxMemoryMiB} MiB`);
      }
    },
  };

  private onExit(w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w.id);
    this.ledger.remove(w.id);
    if (w.standbyFor) {
      // A standby that was not needed, or could not load: the worker it stood by for goes on.
      if (w.standbyFor.standby === w) w.standbyFor.standby = null;
      this.starts.delete(w);
      return;
    }
    const start = this.starts.get(w);
    this.starts.delete(w);
    if (w.figures) this.mergeInto(this.retired, w);
    // Its last rows may still be in the pipe when 'exit' comes: counted once they are read.
    void w.rowsRead.then(() => {
      const lost = (w.figures?.rowsRecorded ?? 0) - w.rowsReceived;
      if (lost > 0) this.rowsLost += lost;
    });
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (start) {
      start.reject(new errors.DOW_ERR_WORKER_START(this.name, w.pid, `exited before it was ready (${how})`));
      return;
    }
    if ((w.endedBy === 'drain' && code === 0) || (w.endedBy === 'failed' && !w.restartOnFailure)) {
      this.applyPlan();
      return;
    }
    // It died with requests inside: their clients got an error from the front end (nginx: 502).
    this.recordLostRequests(w);
    const lived = Date.now() - w.startedAt;
    if (w.endedBy !== 'hang') {
      this.o.log.error({ app: this.name, worker: w.pid, code, signal }, `${this.name}: worker ${w.pid} died (${how}) after ${lived} ms`);
    }
    this.applyPlan();
    if (this.stopping) return;
    // A worker on its way out (reload, recycle) that hangs or crashes is not replaced: its
    // successor already serves.
    const replace = !w.retiring;
    if (w.endedBy !== 'failed') {
      if (replace) this.restarts++;
      this.o.onEvent({ app: this.name, atMs: Date.now(), kind: w.endedBy === 'hang' ? 'hang' : 'restart', pid: w.pid, detail: w.endedBy === 'hang' ? w.hangDetail : how, source: 'supervisor' });
    }
    const standby = w.standby;
    if (replace && standby?.alive) {
      // Loaded while the worker was going silent: it takes over now.
      standby.standbyFor = null;
      // If it dies or fails to load instead, its own exit starts the next one (with backoff).
      standby.restartOnFailure = true;
      standby.ready?.then(() => this.admit(standby), () => {});
    } else if (replace) this.scheduleRestart(lived);
    else if (standby) this.discard(standby);
  }

  /**
   * fork() failed: there is no process, so nothing to wait for or kill. A start, reload or
   * recycle waiting for it fails as for a worker that could not load; a replacement for a dead
   * worker counts as a quick exit, so the next try backs off as a crash loop does.
   */
  private onSpawnFailed(w: WorkerProcess, err: NodeJS.ErrnoException): void {
    this.workers.delete(w.id);
    this.ledger.remove(w.id);
    this.startFailures++;
    const failure = new errors.DOW_ERR_WORKER_SPAWN(this.name, err.code ?? err.message, err.message);
    this.startError = failure.message;
    const start = this.starts.get(w);
    this.starts.delete(w);
    this.o.log.error({ app: this.name, code: failure.code, errno: err.code }, failure.message);
    if (w.standbyFor) {
      // Not tried again for this silence: the hang kill's replacement backs off instead.
      w.standbyFor.standbyFailed = true;
      if (w.standbyFor.standby === w) w.standbyFor.standby = null;
      return;
    }
    if (start) return start.reject(failure);
    if (w.restartOnFailure && !this.stopping) this.scheduleRestart(0);
  }

  /** First restart at once; quick exits in a row wait longer each time (see restart-policy). */
  private scheduleRestart(livedMs: number): void {
    const delay = crashBackoffMs(this.crashStreak, livedMs);
    this.crashStreak = delay.streak;
    this.pendingRestarts++;
    // A timer already waiting starts this worker too, after the longer of the two waits.
    if (this.restartTimer) return;
    if (delay.ms === 0) return this.startPendingWorkers();
    const why = this.startError === null ? `crash loop (${delay.streak} quick exits in a row)` : `workers cannot start (${delay.streak} failures in a row)`;
    this.o.log.warn({ app: this.name, backoffMs: delay.ms }, `${this.name}: ${why}: next worker in ${delay.ms} ms`);
    this.restartAt = Date.now() + delay.ms;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.startPendingWorkers();
    }, delay.ms);
    this.restartTimer.unref();
  }

  private startPendingWorkers(): void {
    if (this.stopping) return;
    for (; this.pendingRestarts > 0; this.pendingRestarts--) this.spawn(true);
  }

  /**
   * Rows for the requests that died inside a worker: as many as its ring's load word held at its
   * exit (exact, and newer than any heartbeat: a SIGKILL from outside, an OOM kill), or without a
   * ring as many as its last heartbeat listed; a hung worker may hold more connections than that,
   * counted from the kernel's tables. The oldest listed keep their start, method and path; the
   * others arrived after its last answer and are dated from it.
   */
  private recordLostRequests(w: WorkerProcess): void {
    const now = Date.now();
    const listed = w.figures?.inFlight ?? [];
    const load = w.ringLoad(this.o.startConfig.app.queue);
    const count = Math.max(load === null ? listed.length : load.running + load.queued, w.heldConnections ?? 0);
    const lost: Array<[number, string, string]> = listed.slice(0, count);
    const silentSince = now - Math.round(performance.now() - w.lastAnswerAt);
    for (let i = lost.length; i < count; i++) lost.push([silentSince, '', '']);
    for (const [startMs, method, path] of lost) {
      const serviceMs = Math.max(0, now - startMs);
      this.retired.record(serviceMs, 0, WORKER_LOST_STATUS);
      this.o.onRow({ app: this.name, startMs, queueMs: 0, serviceMs, status: WORKER_LOST_STATUS, outcome: Outcome.WORKER_LOST, bytesIn: 0, bytesOut: 0, method, path: path || null });
    }
  }

  /**
   * A worker that threw outside any request runs on with whatever state the error broke, so it
   * has already stopped accepting: it finishes what it runs (drainTimeout) and exits, and a
   * replacement starts at once, or after the crash-loop backoff if its predecessors died young.
   */
  private replaceBroken(w: WorkerProcess, message: string, stack: string): void {
    if (w.retiring || this.stopping) return;
    if (w.state !== 'accepting') return w.kill(); // loading or standing by: a failed start
    const broken = new errors.DOW_ERR_WORKER_UNCAUGHT(this.name, w.pid, message);
    this.o.log.error({ app: this.name, worker: w.pid, code: broken.code, stack }, broken.message);
    this.retire(w);
    this.restarts++;
    this.o.onEvent({ app: this.name, atMs: Date.now(), kind: 'restart', pid: w.pid, detail: message, source: 'supervisor' });
    this.scheduleRestart(Date.now() - w.startedAt);
  }

  /** Graceful replacement: the new worker serves before the old one stops accepting. */
  private recycle(w: WorkerProcess, reason: string): void {
    if (w.replacing || w.state !== 'accepting' || this.stopping) return;
    w.replacing = true;
    this.o.log.info({ app: this.name, worker: w.pid }, `${this.name}: recycling worker ${w.pid}: ${reason}`);
    const next = this.spawn();
    this.whenReady(next).then(
      async () => {
        if (this.stopping) return next.drain(0);
        this.admit(next);
        await next.listening;
        this.retire(w);
        this.restarts++;
        this.o.onEvent({ app: this.name, atMs: Date.now(), kind: 'recycle', pid: w.pid, detail: reason, source: 'supervisor' });
      },
      (err: Error) => {
        // The old worker goes on; a later report may try again.
        setTimeout(() => (w.replacing = false), HEARTBEAT_MS * 30).unref();
        this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: cannot recycle worker ${w.pid}: ${err.message}`);
      },
    );
  }

  /**
   * Every check: kill a worker whose event loop stopped answering (after starting its standby
   * ahead of time), and every heartbeat ask each worker for its figures.
   */
  private tick(): void {
    const now = performance.now();
    const ping = now - this.lastPingAt >= this.heartbeatMs - this.checkMs / 2;
    if (ping) this.lastPingAt = now;
    for (const w of [...this.workers.values()]) {
      if (!w.alive) continue;
      // Loading an app compiles and runs its top-level code synchronously, often for longer
      // than a short hangTimeout: a worker still starting gets the start timeout instead.
      const limit = w.state === 'starting' ? Math.max(this.o.hangTimeoutMs, START_TIMEOUT_MS) : this.o.hangTimeoutMs;
      const silentMs = now - w.lastAnswerAt;
      if (limit > 0 && w.state === 'accepting' && !w.retiring) this.keepStandby(w, silentMs > limit - STANDBY_LEAD_MS && silentMs > this.heartbeatMs * 2);
      if (limit > 0 && w.state !== 'starting' && silentMs > this.heartbeatMs * 2) {
        this.countHeldConnections(w);
        this.presumeStuck(w);
      }
      if (limit > 0 && silentMs > limit && w.endedBy !== 'hang') {
        w.endedBy = 'hang';
        w.hangDetail = `stuck for ${Math.round(silentMs)} ms (hangTimeout ${limit} ms)`;
        this.hangs++;
        const hung = new errors.DOW_ERR_WORKER_HUNG(this.name, w.pid, Math.round(silentMs), limit);
        this.o.log.error({ app: this.name, worker: w.pid, stuckMs: Math.round(silentMs), code: hung.code }, hung.message);
        void this.killHung(w);
        continue;
      }
      if (ping) w.ping();
    }
  }

  /** Its share goes to the others while it is silent (see SlotLedger.presumeStuck). */
  private presumeStuck(w: WorkerProcess): void {
    if (w.presumedStuck) return;
    w.presumedStuck = true;
    const change = this.ledger.presumeStuck(w.id);
    if (change) w.setLimit(change[1], change[2], this.ledger.total);
    this.applyPlan();
  }

  /** A worker presumed stuck answered after all: it takes its share again (if it accepts). */
  private answered(w: WorkerProcess): boolean {
    if (!w.presumedStuck) return false;
    w.presumedStuck = false;
    if (w.state === 'accepting') this.ledger.setAccepting(w.id, true);
    return true;
  }

  /**
   * Stopped first (SIGSTOP), so that nothing it holds changes, then killed once the count of its
   * connections begun while it was silent is in, or after HELD_COUNT_WAIT_MS: a host whose TCP
   * table takes longer to read does not keep a hung worker's place that long.
   */
  private async killHung(w: WorkerProcess): Promise<void> {
    w.kill('SIGSTOP');
    // Stopped, it runs nothing more: its slots, the stuck requests' too, are the others' now.
    this.ledger.remove(w.id);
    this.applyPlan();
    this.countHeldConnections(w);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([w.heldCount, new Promise((resolve) => (timer = setTimeout(resolve, HELD_COUNT_WAIT_MS)))]);
    clearTimeout(timer);
    // A count still running would read the tables while the kill empties them: dropped.
    w.heldCountedAt = NaN;
    w.kill('SIGKILL');
  }

  /**
   * Counts, off the loop, the connections a silent worker holds, for the rows written if it is
   * killed. Its loop is stuck, so it accepts nothing more: the count taken now is the one at the
   * kill. Once per silence; a worker that answers again starts a new one next time.
   */
  private countHeldConnections(w: WorkerProcess): void {
    const address = this.o.address;
    const silence = w.lastAnswerAt;
    if (!address || w.heldCountedAt === silence || Number.isNaN(w.heldCountedAt)) return;
    w.heldCountedAt = silence;
    w.heldConnections = null;
    w.heldCount = countOpenConnections(w.pid, address).then((n) => {
      if (w.heldCountedAt === silence) w.heldConnections = n;
    });
  }

  private keepStandby(w: WorkerProcess, wanted: boolean): void {
    const standby = w.standby;
    if (wanted && !standby && !this.stopping && !w.standbyFailed) {
      const next = this.spawn();
      next.standbyFor = w;
      w.standby = next;
      // Ready is awaited when it takes over; until then it waits, loaded, not accepting.
      next.ready = this.whenReady(next);
      next.ready.catch(() => {});
    } else if (!wanted && standby) {
      w.standby = null;
      this.discard(standby);
    }
    if (!wanted) w.standbyFailed = false;
  }

}
