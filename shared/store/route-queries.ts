/**
 * @module route-queries
 * The per-route reads of the timing store: each route's percentiles over a window, merged from
 * route_rollups as the per-app summary is from rollups, and the slowest raw requests.
 */
import type Database from 'better-sqlite3';
import type { RouteSeries, RouteSeriesPoint, RouteSummary, SlowRequest } from '../history.js';
import { LatencyHistogram } from '../histogram.js';
import { coverRouteWindow, routeSeriesResolution } from './rollup-cover.js';

/** The schema version that added route_rollups and requests.route. */
export const ROUTES_VERSION = 6;

interface RouteRow {
  method: string;
  route: string;
  count: number;
  errors: number;
  service_sum_ms: number;
  service_hist: Buffer;
}

interface RequestRow {
  start_ms: number;
  method: string;
  path: string | null;
  route: string | null;
  status: number;
  queue_ms: number;
  service_ms: number;
}

interface RouteBucketRow {
  bucket_ms: number;
  count: number;
  errors: number;
  service_hist: Buffer;
}

export interface RouteQueries {
  routes(app: string, fromMs: number, toMs: number): RouteSummary[];
  routeSeries(app: string, method: string, route: string, fromMs: number, toMs: number): RouteSeries;
  slowest(app: string, fromMs: number, toMs: number, limit: number): SlowRequest[];
}

export function prepareRouteQueries(db: Database.Database): RouteQueries {
  const rollups = db.prepare<[string, number, number, number], RouteRow>(
    'SELECT method, route, count, errors, service_sum_ms, service_hist FROM route_rollups WHERE app = ? AND res_ms = ? AND bucket_ms >= ? AND bucket_ms < ?',
  );
  const routeBuckets = db.prepare<[string, number, number, number, string, string], RouteBucketRow>(
    `SELECT bucket_ms, count, errors, service_hist FROM route_rollups
     WHERE app = ? AND res_ms = ? AND bucket_ms >= ? AND bucket_ms < ? AND method = ? AND route = ? ORDER BY bucket_ms`,
  );
  // Raw rows have no time index (it would cut insert speed tenfold), but rowids grow with time:
  // the window's first rowid is found by bisection over the primary key, then only the window is read.
  const bounds = db.prepare<[], { lo: number | null; hi: number | null }>('SELECT min(id) AS lo, max(id) AS hi FROM requests');
  const firstAtOrAfter = db.prepare<[number], { id: number; start_ms: number }>('SELECT id, start_ms FROM requests WHERE id >= ? ORDER BY id LIMIT 1');
  const slow = db.prepare<[number, string, number, number, number], RequestRow>(
    `SELECT start_ms, method, path, route, status, queue_ms, service_ms FROM requests
     WHERE id >= ? AND app = ? AND start_ms >= ? AND start_ms < ? ORDER BY service_ms DESC LIMIT ?`,
  );

  /** The smallest rowid whose row starts at `fromMs` or later, give or take rows finished out of order. */
  function firstId(fromMs: number): number | null {
    const { lo, hi } = bounds.get()!;
    if (lo === null || hi === null) return null;
    let a = lo, b = hi;
    while (a < b) {
      const mid = Math.floor((a + b) / 2);
      const row = firstAtOrAfter.get(mid);
      if (row === undefined || row.start_ms >= fromMs) b = mid;
      else a = row.id + 1;
    }
    return a;
  }

  return {
    routes(app, fromMs, toMs) {
      const byRoute = new Map<string, { row: RouteSummary; hist: LatencyHistogram }>();
      for (const range of coverRouteWindow(fromMs, toMs)) {
        for (const r of rollups.iterate(app, range.resMs, range.loMs, range.hiMs)) {
          const key = JSON.stringify([r.method, r.route]);
          let entry = byRoute.get(key);
          if (entry === undefined) {
            entry = { row: { method: r.method, route: r.route, count: 0, errors: 0, p50Ms: null, p95Ms: null, p99Ms: null, totalMs: 0 }, hist: new LatencyHistogram() };
            byRoute.set(key, entry);
          }
          entry.row.count += r.count;
          entry.row.errors += r.errors;
          entry.row.totalMs += r.service_sum_ms;
          entry.hist.mergeEncoded(r.service_hist);
        }
      }
      const out: RouteSummary[] = [];
      for (const { row, hist } of byRoute.values()) {
        row.p50Ms = msOf(hist.percentile(0.5));
        row.p95Ms = msOf(hist.percentile(0.95));
        row.p99Ms = msOf(hist.percentile(0.99));
        out.push(row);
      }
      return out.sort((a, b) => b.totalMs - a.totalMs || b.count - a.count);
    },

    routeSeries(app, method, route, fromMs, toMs) {
      const stepMs = routeSeriesResolution(toMs - fromMs);
      const first = Math.floor(fromMs / stepMs) * stepMs;
      const rows = routeBuckets.all(app, stepMs, first, toMs, method, route);
      const hist = new LatencyHistogram();
      const points: RouteSeriesPoint[] = [];
      let k = 0;
      for (let t = first; t < toMs; t += stepMs) {
        const row = rows[k]?.bucket_ms === t ? rows[k++] : undefined;
        if (row === undefined) {
          points.push({ t, count: 0, errors: 0, service: { p50: null, p95: null, p99: null } });
          continue;
        }
        hist.reset();
        hist.mergeEncoded(row.service_hist);
        points.push({ t, count: row.count, errors: row.errors, service: { p50: msOf(hist.percentile(0.5)), p95: msOf(hist.percentile(0.95)), p99: msOf(hist.percentile(0.99)) } });
      }
      return { app, method, route, fromMs, toMs, stepMs, points };
    },

    slowest(app, fromMs, toMs, limit) {
      // A minute of slack: rows are written as requests end, so a long one sits after later starts.
      const from = firstId(fromMs - 60_000);
      if (from === null) return [];
      return slow.all(from, app, fromMs, toMs, limit).map((r) => ({
        atMs: r.start_ms, method: r.method, path: r.path, route: r.route, status: r.status, queueMs: r.queue_ms, serviceMs: r.service_ms,
      }));
    },
  };
}

function msOf(us: number | null): number | null {
  return us === null ? null : us / 1000;
}
