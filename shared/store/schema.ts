/**
 * @module schema
 * Names and constants of the timing store's SQLite schema, shared by the writer (server) and the
 * readers (dashboard). The tables themselves are created by migrations.ts.
 */

/** The schema version this program writes; kept in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 6;

/**
 * Rollup resolutions. 10 s buckets serve windows up to 1 h, 1 min up to 24 h, 1 h beyond: each
 * window then needs a few hundred buckets at most (7 d = 168 hourly blobs to merge).
 */
export const RESOLUTIONS_MS = [10_000, 60_000, 3_600_000] as const;
export type ResolutionMs = (typeof RESOLUTIONS_MS)[number];

/*
 * Tables (see migrations.ts for the DDL):
 *
 *   requests          one raw row per finished request; rowid order ~ time order, no index on
 *                     time because an index cuts insert speed tenfold
 *   rollups           (app, res_ms, bucket_ms) -> counts, service sum/min/max, two histogram BLOBs
 *   limit_changes     audit of thread-limit changes
 *   threads_commands  control channel: the dashboard process asks, the runtime answers (v2)
 *   runtime_events    worker reloads, restarts, hangs and recycles: audit and chart markers (v3)
 *   instances         the server runs that wrote the store: start, last heartbeat, pid (v4);
 *                     requests.instance_id names each raw row's run
 *   worker_changes    worker counts set at run time and the config's, for persistLimits (v5)
 *   route_rollups     (app, res_ms, bucket_ms, method, route) -> count, 5xx, service sum and histogram (v6)
 *   routes            the (method, route) pairs each app has, ROUTES_PER_APP at most (v6)
 */

/**
 * Per-route rollup resolutions: no 10 s buckets (a routes table needs no 10 s edges, and 200
 * routes x 10 s is most of the cells), and day buckets, so that 7 days of 200 routes is about
 * 50 buckets per route to merge rather than 300.
 */
export const ROUTE_RESOLUTIONS_MS = [60_000, 3_600_000, 86_400_000] as const;

/** Distinct routes kept per app; the rest count as OVERFLOW_ROUTE, so a scanner cannot grow the store. */
export const ROUTES_PER_APP = 200;
/** A route longer than this is cut: the store keeps a bounded string per route. */
export const MAX_ROUTE_LENGTH = 200;
/** Where an app's routes beyond ROUTES_PER_APP go, all methods together. */
export const OVERFLOW_ROUTE = { method: '*', route: '(other)' } as const;

/** Columns of one per-route rollup row as stored. */
export interface RouteRollupRecord {
  app: string;
  res_ms: number;
  bucket_ms: number;
  method: string;
  route: string;
  count: number;
  errors: number;
  service_count: number;
  service_sum_ms: number;
  service_hist: Buffer;
}

/** Columns of one rollup row as stored. Latency sums, minima and maxima are in ms. */
export interface RollupRecord {
  app: string;
  res_ms: number;
  bucket_ms: number;
  count: number;
  s1xx: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  rejected: number;
  timeouts: number;
  aborted: number;
  service_count: number;
  service_sum_ms: number;
  service_min_ms: number | null;
  service_max_ms: number | null;
  service_hist: Buffer;
  queue_hist: Buffer;
}

/** Connection settings every connection to the store uses, readers and writers alike. */
export const BUSY_TIMEOUT_MS = 1000;
