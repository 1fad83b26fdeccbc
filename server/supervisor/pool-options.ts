/**
 * @module pool-options
 * What a WorkerPool is started with: one app's socket, limits and timeouts, what each worker is
 * started with, and where its rows and events go. Its own module so that the pool's parts can
 * name it without importing the pool.
 */
import type { Logger } from 'pino';
import type { RuntimeEvent, TimingRow } from '../../shared/timing-row.js';
import type { PackedBatch } from '../store/packed-batch.js';
import type { AppEnvironment } from '../config/app-environment.js';
import type { WorkerStartConfig } from './ipc-protocol.js';
import type { WorkerCredentials } from './worker-process.js';

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
  /** `cwd`, `env`, `envFile` the first workers start with; null: the supervisor's own. */
  environment: AppEnvironment | null;
  /** The environment as it is now, for a reload (the config file and envFile read again). */
  readEnvironment(): Promise<AppEnvironment | null>;
  log: Logger;
  onRows(batch: PackedBatch): void;
  onRow(row: TimingRow): void;
  onEvent(event: RuntimeEvent): void;
}
