/**
 * @module runtime-control
 * What the dashboard needs from a running runtime. In-process it is the Server itself (wired in
 * bin/); in the separate-process mode the dashboard builds one from the stats port and the
 * database's command table. Neither side imports the other: this interface is the contract.
 */

export interface AppSnapshot {
  name: string;
  /** `host:port` or `unix:/path.sock`. */
  listen: string;
  mount: string;
  threads: number;
  online: number;
  queued: number;
  requests: number;
  rejected: number;
  errors: number;
  timeouts: number;
  aborted: number;
  /** Live worker processes; 0 when the app runs inside the supervisor (`workers: 0`). */
  workers: number;
  /** Worker processes started to replace one that crashed, hung or was recycled. */
  restarts: number;
  /** Workers killed because their event loop stopped answering (`hangTimeout`). */
  hangs: number;
  workerPids: number[];
  /** >0 while a crash loop holds the next restart back, ms left; 0 otherwise. */
  backoffMs: number;
  /** Upgraded connections (WebSockets) open now; HTTP listeners only, 0 otherwise. */
  websockets: number;
  /** Upgrades accepted since the start. */
  upgrades: number;
  /** Apps with `adaptive` only: who sets the limit now (an operator's limit makes it fixed). */
  threadsMode?: ThreadsMode;
  /** Apps with `adaptive` only: the controller's last decision, in words. */
  threadsReason?: string;
}

export type ThreadsMode = 'adaptive' | 'fixed';

export interface RuntimeSnapshot {
  version: string;
  pid: number;
  /** Epoch milliseconds. */
  startTimeMs: number;
  uptimeS: number;
  requests: number;
  online: number;
  apps: AppSnapshot[];
}

export interface RuntimeControl {
  snapshot(): Promise<RuntimeSnapshot>;
  /** Changes a thread limit; resolves with the previous limit once the runtime applied it. */
  setThreads(app: string, threads: number, source: string): Promise<{ app: string; oldThreads: number; newThreads: number }>;
  /**
   * Graceful reload of one app's workers with freshly loaded code: resolves once the new workers
   * serve and the old ones drain; rejects (old workers still serving) if the new code fails to load.
   */
  reload(app: string, source: string): Promise<ReloadResult>;
  /**
   * Changes how many worker processes serve an app: resolves once the new count serves (added
   * workers listen; removed ones drained and exited). Rejects for an in-process app (workers: 0),
   * a count above the app's thread limit, or workers that fail to start (the others go on).
   */
  setWorkers(app: string, workers: number, source: string): Promise<ScaleResult>;
  /**
   * Adaptive apps: `adaptive` resumes the controller, `fixed` keeps the limit where it is.
   * Absent where the runtime is in another process (the command table carries limits only).
   */
  setThreadsMode?(app: string, mode: ThreadsMode, source: string): Promise<{ app: string; mode: ThreadsMode; threads: number }>;
  /**
   * The app's requests running or queued now, oldest first, each worker asked afresh. Absent
   * where the runtime is read through its stats port (a dashboard in its own process).
   */
  requestsNow?(app: string): Promise<InFlightRequest[]>;
  /** Each live worker process of the app, asked afresh; absent as requestsNow is. */
  workerProcesses?(app: string): Promise<WorkerProcessRow[]>;
}

/** One worker process as the dashboard's workers table shows it. */
export interface WorkerProcessRow {
  pid: number;
  /** Epoch ms. */
  startedAtMs: number;
  /** User plus system CPU time since it started, seconds: the page turns two reads into a %. */
  cpuSeconds: number;
  rssBytes: number;
  /** Requests it has answered. */
  requests: number;
  state: string;
}

export interface ScaleResult {
  app: string;
  oldWorkers: number;
  newWorkers: number;
  /** Worker processes started for the change, and those that drained and exited. */
  startedPids: number[];
  stoppedPids: number[];
  tookMs: number;
}

/** A request running or queued in the runtime now. */
export interface InFlightRequest {
  /** When it arrived, epoch ms. */
  startMs: number;
  method: string;
  path: string;
  /** The route template once the framework matched one, else the path with ids folded. */
  route: string;
  /** Waiting for a thread, not yet in the app. */
  queued: boolean;
  /** The worker process that holds it (the supervisor's pid for an app run in-process). */
  worker: number;
}

export interface ReloadResult {
  app: string;
  oldPids: number[];
  newPids: number[];
  tookMs: number;
}

/** `workers 1 -> 3, started 4242 4243`: the event's detail, the log line's and the CLI's. */
export function describeScale(r: Pick<ScaleResult, 'oldWorkers' | 'newWorkers' | 'startedPids' | 'stoppedPids'>): string {
  const pids = r.startedPids.length > 0 ? `, started ${r.startedPids.join(' ')}` : r.stoppedPids.length > 0 ? `, drained ${r.stoppedPids.join(' ')}` : '';
  return `workers ${r.oldWorkers} -> ${r.newWorkers}${pids}`;
}

export const MAX_THREADS = 1024;
/** The most worker processes one app may have, in the config and at run time alike. */
export const MAX_WORKERS = 256;
