/**
 * @module pool-figures
 * One app's figures summed over its workers, live and gone (stats port, /readyz, metrics), and the
 * rows and counts a dead worker leaves behind: its lost requests and its undelivered rows.
 */
import type { AppSnapshot, InFlightRequest, WorkerProcessRow } from '../../shared/runtime-control.js';
import { Outcome } from '../../shared/timing-row.js';
import { OVERFLOW_ROUTE } from '../../shared/store/schema.js';
import { AppStats } from '../host/app-stats.js';
import { RouteStats } from '../host/route-stats.js';
import type { ProcessFigures } from '../metrics/process-figures.js';
import type { AppState } from '../metrics/stats-report.js';
import type { WorkerFigures } from './ipc-protocol.js';
import type { PoolOptions } from './pool-options.js';
import type { WorkerProcess } from './worker-process.js';
import type { PoolWorker } from './worker-role.js';


export interface WorkerProcessInfo {
  slot: number;
  pid: number;
  state: string;
  rssBytes: number;
  process: ProcessFigures;
}

/**
 * A figures request (stats port, dashboard) waits this long for a worker's answer; a worker that
 * has missed its last heartbeat, or left any ping unanswered this long, is not waited for at all:
 * a hang slows only the requests in the first 50 ms of its first unanswered ping, never the
 * stream of polls until the next heartbeat (the port must answer within 100 ms, on a busy
 * machine, scheduling included).
 */
export const COLLECT_TIMEOUT_MS = 50;
/**
 * What the client of a request inside a dying worker got: the front end saw the connection close
 * without a response (nginx: "upstream prematurely closed connection", 502).
 */
const WORKER_LOST_STATUS = 502;

export class PoolFigures {
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
  /** Workers that exited but whose last figures may still be on their way (see retire). */
  private readonly departing = new Set<WorkerProcess>();
  /** When the last figures collection (stats port, metrics, dashboard) started. */
  private lastCollectAt = -Infinity;

  constructor(
    private readonly o: PoolOptions,
    private readonly heartbeatMs: number,
  ) {
    if (o.startConfig.routeFigures === true) this.retired.routes = new RouteStats();
  }

  private get name(): string {
    return this.o.name;
  }

  /**
   * Fresh figures from every live worker. A hung one keeps its last, which predate the request
   * it is stuck in: state() then takes its running and queued from its load (see liveLoad).
   */
  async collect(workers: Iterable<PoolWorker>): Promise<void> {
    const now = performance.now();
    this.lastCollectAt = now;
    // Only workers that serve: one loading the app (a standby, a replacement) has no figures to
    // give yet and may not answer while its code compiles.
    const responsive = [...workers].map((r) => r.process).filter((w) => (w.state === 'accepting' || w.state === 'draining') && now - w.lastAnswerAt < this.heartbeatMs + COLLECT_TIMEOUT_MS && w.unansweredFor(now) < COLLECT_TIMEOUT_MS);
    await Promise.all(responsive.map((w) => w.collect(COLLECT_TIMEOUT_MS)));
  }

  /**
   * Accepting workers whose event loop answered within two heartbeats: what /readyz asks, from
   * what the heartbeats already brought (no round trip per poll).
   */
  readyWorkers(workers: Iterable<PoolWorker>): number {
    const now = performance.now();
    let n = 0;
    for (const { process: w } of workers) if (w.state === 'accepting' && now - w.lastAnswerAt < 2 * this.heartbeatMs + COLLECT_TIMEOUT_MS) n++;
    return n;
  }

  /**
   * The requests running or queued in each live worker, oldest first, from the figures collect()
   * just brought; a hung worker's are from its last answer, which is when its stuck request was
   * already running, so that request stays in the list with its age growing.
   */
  inFlight(workers: Iterable<PoolWorker>): InFlightRequest[] {
    const out: InFlightRequest[] = [];
    for (const { process: w } of workers) {
      if (!w.alive || w.figures === null) continue;
      for (const [startMs, method, path, route, queued] of w.figures.inFlight) out.push({ startMs, method, path, route, queued, worker: w.pid });
    }
    return out.sort((a, b) => a.startMs - b.startMs);
  }

  /** Each live worker with figures, by slot, for the dashboard's workers table. */
  processRows(workers: Iterable<PoolWorker>): WorkerProcessRow[] {
    const out: Array<WorkerProcessRow & { slot: number }> = [];
    for (const { process: w, slot } of workers) {
      const f = w.figures;
      if (!w.alive || f === null) continue;
      out.push({ slot, pid: w.pid, startedAtMs: f.process.startTimeSeconds * 1000, cpuSeconds: f.process.cpuUserSeconds + f.process.cpuSystemSeconds, rssBytes: f.rssBytes, requests: f.stats.requests, state: w.state });
    }
    return out.sort((a, b) => a.slot - b.slot).map(({ slot: _slot, ...row }) => row);
  }

  /** Every live worker's slot, pid and last reported figures, for the metrics listener. */
  processes(workers: Iterable<PoolWorker>): WorkerProcessInfo[] {
    const out: WorkerProcessInfo[] = [];
    for (const { process: w, slot } of workers) {
      if (w.alive && w.figures) out.push({ slot, pid: w.pid, state: w.state, rssBytes: w.figures.rssBytes, process: w.figures.process });
    }
    return out.sort((a, b) => a.slot - b.slot);
  }

  state(workers: Iterable<PoolWorker>, threads: number, backoffMs: number): AppState {
    const stats = new AppStats();
    stats.merge(this.retired.toData());
    for (const w of this.departing) if (w.figures) this.mergeInto(stats, w);
    let online = 0;
    let queued = 0;
    const pids: number[] = [];
    for (const { process: w } of workers) {
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
      threads,
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
      backoffMs,
      websockets: stats.websockets,
      upgrades: stats.upgrades,
      startFailures: this.startFailures,
    };
    return { ...snapshot, stats };
  }

  /**
   * A worker is gone: its figures join the retired ones once its last are read (they may come
   * after its 'exit'); until then its latest still count, so totals never go backwards. Its
   * undelivered rows are counted then too.
   */
  retire(w: WorkerProcess): void {
    this.departing.add(w);
    void w.settled.then(() => {
      this.departing.delete(w);
      if (w.figures) this.mergeInto(this.retired, w);
      const lost = (w.figures?.rowsRecorded ?? 0) - w.rowsReceived;
      if (lost > 0) this.rowsLost += lost;
    });
  }

  /**
   * Rows for the requests that died inside a worker, once its rows are read (`rowsRead`): as many
   * as its load held at its exit (its ring's header, or its pipe's last load frame: newer than any
   * heartbeat, for a SIGKILL from outside or an OOM kill), or where that is damaged as many as its
   * last heartbeat listed; a hung worker may hold more connections than that, counted from the
   * kernel's tables. The oldest listed keep their start, method and path; the others arrived
   * after its last answer and are dated from it. Each ends at `diedAtMs`, its exit.
   */
  recordLostRequests(w: WorkerProcess, heldConnections: number | null, diedAtMs: number): void {
    const listed = w.figures?.inFlight ?? [];
    const load = w.load(this.o.startConfig.app.queue);
    const count = Math.max(load === null ? listed.length : load.running + load.queued, heldConnections ?? 0);
    const lost: Array<[number, string, string, string | null]> = listed.slice(0, count).map(([startMs, method, path, route]) => [startMs, method, path, route]);
    const silentSince = diedAtMs - Math.round(performance.now() - w.lastAnswerAt);
    for (let i = lost.length; i < count; i++) lost.push([silentSince, '', '', null]);
    for (const [startMs, method, path, route] of lost) {
      const serviceMs = Math.max(0, diedAtMs - startMs);
      this.retired.record(serviceMs, 0, WORKER_LOST_STATUS, route === null ? OVERFLOW_ROUTE : { method, route });
      this.o.onRow({ app: this.name, startMs, queueMs: 0, serviceMs, status: WORKER_LOST_STATUS, outcome: Outcome.WORKER_LOST, bytesIn: 0, bytesOut: 0, method, path: path || null, route });
    }
  }

  /**
   * A serving worker that did not answer the last collection: its requests running and queued
   * as it last published them, since its last figures predate the request it is stuck in. Null
   * for one that answered. On the pipe an admission sends the load before the app's code runs,
   * as the ring's header has it at once, so the request it is stuck in counts either way.
   */
  private liveLoad(w: WorkerProcess): { running: number; queued: number } | null {
    if (w.figuresAt >= this.lastCollectAt) return null;
    return w.load(this.o.startConfig.app.queue);
  }

  /**
   * Figures come from app processes: a malformed one is logged and left out, never thrown. A gone
   * worker holds no connection, whatever its last figures said (a crash, a kill).
   */
  private mergeInto(stats: AppStats, w: WorkerProcess): boolean {
    const figures = (w.figures as WorkerFigures).stats;
    try {
      stats.merge(w.alive ? figures : { ...figures, websockets: 0 });
      return true;
    } catch (err) {
      this.o.log.error({ app: this.name, worker: w.pid }, `${this.name}: worker ${w.pid} sent unusable figures: ${(err as Error).message}`);
      w.dropFigures();
      return false;
    }
  }
}
