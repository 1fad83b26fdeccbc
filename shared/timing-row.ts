/**
 * @module timing-row
 * One finished request as the runtime hands it to the timing store. The runtime fills it in on the
 * request path, so it is a flat record of numbers and short strings.
 */

/** Why a request ended the way it did; rollups count these apart from the status. */
export const Outcome = {
  /** The app answered (any status, including the app's own 5xx). */
  ANSWERED: 0,
  /** Refused with 503 by the thread limiter: queue full or queue wait ran out. */
  REJECTED: 1,
  /** The per-app request timeout fired (504, or the connection was cut). */
  TIMEOUT: 2,
  /** The client went away before the response ended (recorded as 499). */
  ABORTED: 3,
  /** The app threw or returned something unusable (500 from us). */
  APP_ERROR: 4,
  /** The worker process running it crashed or was killed as hung (the front end answered 502). */
  WORKER_LOST: 5,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface TimingRow {
  app: string;
  /** When the connection was accepted, epoch milliseconds. */
  startMs: number;
  /** Time spent waiting for a thread slot, ms (fractional). */
  queueMs: number;
  /** Time from admission to the end of the response, ms (fractional). */
  serviceMs: number;
  status: number;
  outcome: Outcome;
  bytesIn: number;
  bytesOut: number;
  method: string;
  /** Path without its query string, truncated; null when path recording is off. */
  path: string | null;
  /**
   * The route template the framework matched (`/items/:id`), else the path with ids folded, or
   * `(unmatched)` for a 404 without one; the store bounds how many an app has.
   */
  route?: string | null;
}

/** What the runtime needs from a timing store; `null` in its place means recording is off. */
export interface TimingRecorder {
  record(row: TimingRow): void;
  /** Loss and progress counters for the stats port (`store_rows`, `store_dropped`, `store_errors`). */
  figures(): { rows: number; dropped: number; errors: number };
  /** Writes an audit entry for a thread-limit change. */
  recordLimitChange(change: LimitChange): void;
  /** Writes a worker event (reload, restart, hang, recycle, scale): audited and drawn as a chart marker. */
  recordEvent(event: RuntimeEvent): void;
  /** Keeps a worker-count change (or the config's count) for persistLimits; its marker is a `scale` event. */
  recordWorkersChange(change: WorkersChange): void;
  /** Flushes everything buffered, then closes. */
  close(): Promise<void>;
}

export interface LimitChange {
  app: string;
  atMs: number;
  oldThreads: number;
  newThreads: number;
  /** Who asked, e.g. `dashboard 127.0.0.1` or `api`. */
  source: string;
}

export interface WorkersChange {
  app: string;
  atMs: number;
  oldWorkers: number;
  newWorkers: number;
  source: string;
}

/** What happened to an app's workers; `reload` and `scale` are an operator's actions, the others the supervisor's. */
export type RuntimeEventKind = 'reload' | 'restart' | 'hang' | 'recycle' | 'scale';

export interface RuntimeEvent {
  app: string;
  atMs: number;
  kind: RuntimeEventKind;
  /** The worker it concerns (the replaced one), 0 for a whole-app reload. */
  pid: number;
  /** Human-readable: why, and what it cost (e.g. `exit code 1`, `stuck for 30012 ms`). */
  detail: string;
  /** Who asked: `SIGHUP`, `dashboard 127.0.0.1`, `supervisor`. */
  source: string;
}
