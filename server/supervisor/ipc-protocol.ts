/**
 * @module ipc-protocol
 * Messages between the supervisor and a worker process, over Node's IPC channel with the
 * 'advanced' (structured clone) serialization, so typed arrays and Infinity cross as they are.
 * Timing rows go through a ring in shared memory (ROW_RING_FD) or a pipe of their own (ROWS_FD),
 * both read in worker-process.ts, as frames (server/store/row-frames.ts).
 *
 *   supervisor                                   worker
 *     start ──────────────────────────────────▶  loads the app     ──▶ ready | failed
 *     accept (+ listening handle) ────────────▶  listens on its copy of the socket ──▶ listening (its I/O)
 *     ping ───────────────────────────────────▶  ◀── pong (load, figures, memory, in-flight)
 *     limit ──────────────────────────────────▶  ◀── load (queue pressure, slots given back)
 *     stopAccepting ──────────────────────────▶  closes its copy of the socket (a stop only)
 *     conn (+ socket, during a stop) ─────────▶  serves a connection the supervisor accepted
 *     drain ──────────────────────────────────▶  stops accepting, finishes, flushes ──▶ drained, exits
 *                                                ◀── exiting (process.exit: last figures)
 *                                                ◀── recycle (maxRequests reached)
 *                                                ◀── fatal (uncaught error: replace me, then drain me)
 *                                                ◀── upgradesWanted (its lease of maxUpgrades is full)
 *     upgradesGranted ────────────────────────▶
 *     upgradesReclaim (the app at its cap) ───▶  ◀── upgradesReturned (also unasked: what it leaves unused)
 */
import type { AppStatsData } from '../host/app-stats.js';
import type { AppOptions } from '../host/app-host.js';
import type { ScgiLimits } from '../protocol/limits.js';
import type { AppSource, LogSettings } from '../config/config.js';
import type { ProcessFigures } from '../metrics/process-figures.js';
import type { WorkerLoad } from './slot-ledger.js';
import type { LeaseMessage } from '../http/upgrade-capacity.js';

/**
 * The worker's descriptor for its timing rows (server/store/row-frames.ts): stdio 0-2, the IPC
 * channel on 3, then this pipe. A write there is in the kernel at once, so a worker that dies
 * right after has sent the rows of every response it finished.
 */
export const ROWS_FD = 4;

/**
 * The worker's descriptor for the ring its timing rows go to first (server/native/row-ring.ts),
 * when it has one: memory shared with the supervisor, so a frame costs neither side a system
 * call; the rows pipe takes what does not fit.
 */
export const ROW_RING_FD = 5;

export interface WorkerStartConfig {
  /** maxUpgrades is the app's whole cap: the worker leases its part (upgradesWanted). */
  app: Omit<AppOptions, 'handler' | 'threads' | 'upgradeCapacity'>;
  source: AppSource;
  listen: string;
  limits: ScgiLimits;
  log: LogSettings;
  /** Null when the timing store is off: rows are then not even packed. */
  store: { recordPaths: boolean } | null;
  /**
   * From the supervisor's settings: the app may use a row ring (not on io 'node', the path
   * without the native core). As the worker receives it: a ring is at ROW_RING_FD (the worker
   * process turns it off where no ring could be made), for its rows when the store is on and for
   * its load (requests running and queued) in any case.
   */
  rowRing: boolean;
  /** The app's thread limit across all its workers when this worker starts (see 'limit'). */
  appThreads: number;
  /** Requests after which the worker asks to be replaced (jitter already applied); 0 = never. */
  maxRequests: number;
  /** The app's working directory (`cwd`); absent: the supervisor's. */
  cwd?: string;
  /** Keep figures per route for the metrics listener's `route` label (metrics.routeLabel). */
  routeFigures?: boolean;
}

/**
 * One request inside a worker: for the dashboard's list of requests running now, and for the rows
 * written when the worker dies with it. `route` is the template once the framework matched one
 * (Express and Fastify before the handler runs), else the folded path.
 */
export type InFlight = [startMs: number, method: string, path: string, route: string, queued: boolean];

export interface WorkerFigures extends WorkerLoad {
  stats: AppStatsData;
  rssBytes: number;
  /** CPU, heap, descriptors, event-loop delay: the worker's row in the metrics listener. */
  process: ProcessFigures;
  /** Rows handed to the recorder so far; rows received minus this is what a crash lost. */
  rowsRecorded: number;
  /** Requests running or queued now (at most IN_FLIGHT_REPORTED), oldest first. */
  inFlight: InFlight[];
}

export const IN_FLIGHT_REPORTED = 256;

export type ToWorker =
  | { type: 'start'; config: WorkerStartConfig }
  | { type: 'accept' }
  | { type: 'ping'; seq: number }
  /** limit: this worker's share; appLimit: the app's whole limit, for its log lines. */
  | { type: 'limit'; limit: number; seq: number; appLimit: number }
  | { type: 'conn' }
  | { type: 'stopAccepting' }
  | { type: 'drain'; timeoutMs: number; upgradeTimeoutMs: number; stopping: boolean }
  /** The answer to upgradesWanted: `count` more upgraded connections this worker may hold (0: none free). */
  | { type: 'upgradesGranted'; seq: number; count: number }
  /** The app is at its cap and another worker waits: give back what is unused (answered by upgradesReturned, even of 0). */
  | { type: 'upgradesReclaim' };

export type FromWorker =
  /** kind: what the loader recognised the export as ("Express app"), for the supervisor's UP line. */
  | { type: 'ready'; kind?: string }
  /** `stage` says whether the app's code or the socket failed (a port taken by another program). */
  | { type: 'failed'; stage: 'load' | 'listen'; message: string }
  /** io: which I/O serves its socket (the native core or node:net), for the supervisor's UP line. */
  | { type: 'listening'; io: 'native' | 'node' }
  | { type: 'pong'; seq: number; figures: WorkerFigures }
  | { type: 'load'; load: WorkerLoad }
  | { type: 'recycle'; reason: string }
  /** An error thrown outside any request: the worker stopped accepting and wants replacing. */
  | { type: 'fatal'; message: string; stack: string }
  | { type: 'drained'; figures: WorkerFigures }
  /** From the worker's 'exit' event (process.exit from the app): its last rows went just before. */
  | { type: 'exiting'; figures: WorkerFigures }
  /** Its lease of the app's maxUpgrades is full (server/http/upgrade-capacity.ts). */
  | LeaseMessage;
