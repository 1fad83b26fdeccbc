/**
 * @module history
 * What the dashboard reads from the timing store's history. The SQLite implementation lives in
 * shared/store/; the dashboard only sees this interface, so it never needs the runtime.
 */
import type { RuntimeEventKind } from './timing-row.js';

export const WINDOWS_MS = {
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 24 * 3_600_000,
} as const;
export type WindowName = keyof typeof WINDOWS_MS;

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** One bucket of a time series; latencies in ms, null where the bucket had no requests. */
export interface SeriesPoint {
  /** Bucket start, epoch ms. */
  t: number;
  count: number;
  status: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  rejected: number;
  timeouts: number;
  aborted: number;
  service: Percentiles;
  queue: Percentiles;
}

export interface Series {
  app: string;
  fromMs: number;
  toMs: number;
  stepMs: number;
  points: SeriesPoint[];
}

export interface WindowSummary {
  app: string;
  fromMs: number;
  toMs: number;
  count: number;
  /** Share of requests answered 5xx (including our 503/504), 0..1; null with no requests. */
  errorRate: number | null;
  /** Requests over the time the window was recorded (`recordedMs`), else over the window. */
  reqPerS: number;
  /** How much of the window some server run was recording; null for files without run records. */
  recordedMs: number | null;
  /** How many server runs recorded in the window (2 after a restart); null as above. */
  runs: number | null;
  rejected: number;
  timeouts: number;
  aborted: number;
  service: Percentiles;
  queue: Percentiles;
}

export interface AuditEntry {
  id: number;
  atMs: number;
  app: string;
  oldThreads: number;
  newThreads: number;
  source: string;
}

/** A worker event as stored: what happened to which worker, why, and who asked. */
export interface EventEntry {
  id: number;
  atMs: number;
  app: string;
  kind: RuntimeEventKind;
  /** The worker it concerns, 0 for a whole-app reload. */
  pid: number;
  detail: string;
  source: string;
}

export interface EventQuery {
  app?: string;
  /** Inclusive. */
  sinceMs?: number;
  /** Exclusive. */
  untilMs?: number;
  limit?: number;
}

/** One route's figures over a window; latencies are service times in ms, null with none served. */
export interface RouteSummary {
  method: string;
  route: string;
  count: number;
  /** Requests answered 5xx (ours included). */
  errors: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Service time summed over the window: where the app's time went. */
  totalMs: number;
}

/** One bucket of a route's series: its requests, 5xx, and service-time percentiles in ms (null: none). */
export interface RouteSeriesPoint {
  /** Bucket start, epoch ms. */
  t: number;
  count: number;
  errors: number;
  service: Percentiles;
}

export interface RouteSeries {
  app: string;
  method: string;
  route: string;
  fromMs: number;
  toMs: number;
  stepMs: number;
  /** Every bucket of the window, empty ones included (count 0). */
  points: RouteSeriesPoint[];
}

/** One raw request, for the slowest-requests list. */
export interface SlowRequest {
  atMs: number;
  method: string;
  path: string | null;
  route: string | null;
  status: number;
  queueMs: number;
  serviceMs: number;
}

export interface HistoryReader {
  /** Every route with requests in the window, by total service time, largest first. */
  routes(app: string, fromMs: number, toMs: number): RouteSummary[];
  /** The `limit` raw requests of the window with the longest service time, longest first. */
  slowest(app: string, fromMs: number, toMs: number, limit: number): SlowRequest[];
  /** One route's requests and percentiles per bucket, from the per-route rollups. */
  routeSeries(app: string, method: string, route: string, fromMs: number, toMs: number): RouteSeries;
  series(app: string, fromMs: number, toMs: number): Series;
  summary(app: string, fromMs: number, toMs: number): WindowSummary;
  audit(options?: { app?: string; sinceMs?: number; limit?: number }): AuditEntry[];
  /** Runtime events, newest first (the newest `limit`, 100 by default). */
  events(options?: EventQuery): EventEntry[];
  close(): void;
}
