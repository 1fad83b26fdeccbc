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
}

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
}

export const MAX_THREADS = 1024;
