/**
 * @module route-rollup-delta
 * Pure aggregation of a batch of rows into per-route rollup cells per (app, method, route,
 * resolution, bucket), and the merge of a cell into a stored row: rollup-delta.ts's scheme with
 * fewer figures (count, 5xx, service time), since a route's table needs no more.
 */
import { NEW_HISTOGRAMS, type HistogramSource, type LatencyHistogram } from '../../shared/histogram.js';
import { OVERFLOW_ROUTE, ROUTE_RESOLUTIONS_MS, type RouteRollupRecord } from '../../shared/store/schema.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';

const US_PER_MS = 1000;

export interface RouteCell {
  app: string;
  method: string;
  route: string;
  resMs: number;
  bucketMs: number;
  count: number;
  errors: number;
  serviceCount: number;
  serviceSumMs: number;
  service: LatencyHistogram;
}

/**
 * Rows without a route (written by code that sets none) are left out; the overflow route is one
 * cell whatever the method (route-bound.ts).
 */
export function aggregateRoutes(rows: Iterable<TimingRow>, resolutions: readonly number[] = ROUTE_RESOLUTIONS_MS, histograms: HistogramSource = NEW_HISTOGRAMS): RouteCell[] {
  const [finest, ...coarser] = [...resolutions].sort((a, b) => a - b);
  if (finest === undefined) return [];
  const fine = new CellIndex(finest, histograms);
  for (const row of rows) {
    if (row.route === undefined || row.route === null) continue;
    const method = row.route === OVERFLOW_ROUTE.route ? OVERFLOW_ROUTE.method : row.method;
    add(fine.cellFor(row.app, method, row.route, row.startMs), row);
  }
  const cells = [...fine.cells];
  for (const resMs of coarser) {
    if (resMs % finest !== 0) throw new RangeError(`rollup resolution ${resMs} ms is not a multiple of ${finest} ms`);
    const coarse = new CellIndex(resMs, histograms);
    for (const c of fine.cells) mergeInto(coarse.cellFor(c.app, c.method, c.route, c.bucketMs), c);
    cells.push(...coarse.cells);
  }
  return cells;
}

/**
 * One resolution's cells by app, method, route and bucket: nested maps, so that finding a row's
 * cell allocates nothing (a key string per row cost ~0.5 µs) and no two parts can run together.
 */
class CellIndex {
  readonly cells: RouteCell[] = [];
  private readonly byApp = new Map<string, Map<string, Map<string, Map<number, RouteCell>>>>();

  constructor(
    private readonly resMs: number,
    private readonly histograms: HistogramSource,
  ) {}

  cellFor(app: string, method: string, route: string, atMs: number): RouteCell {
    const bucketMs = Math.floor(atMs / this.resMs) * this.resMs;
    const byBucket = child(child(child(this.byApp, app), method), route);
    let cell = byBucket.get(bucketMs);
    if (cell === undefined) {
      cell = { app, method, route, resMs: this.resMs, bucketMs, count: 0, errors: 0, serviceCount: 0, serviceSumMs: 0, service: this.histograms.take() };
      byBucket.set(bucketMs, cell);
      this.cells.push(cell);
    }
    return cell;
  }
}

function child<K, M extends Map<unknown, unknown>>(parent: Map<K, M>, key: K): M {
  let map = parent.get(key);
  if (map === undefined) {
    map = new Map() as M;
    parent.set(key, map);
  }
  return map;
}

/** As rollup-delta.ts: a refused request (503 from the limiter) counts, but has no service time. */
function add(cell: RouteCell, row: TimingRow): void {
  cell.count++;
  if (row.status >= 500) cell.errors++;
  if (row.outcome === Outcome.REJECTED) return;
  cell.serviceCount++;
  cell.serviceSumMs += row.serviceMs;
  cell.service.record(row.serviceMs * US_PER_MS);
}

function mergeInto(target: RouteCell, source: RouteCell): void {
  target.count += source.count;
  target.errors += source.errors;
  target.serviceCount += source.serviceCount;
  target.serviceSumMs += source.serviceSumMs;
  target.service.merge(source.service);
}

/** The stored row after adding `cell` to `existing` (undefined: a new bucket). */
export function mergeRouteCell(cell: RouteCell, existing: RouteRollupRecord | undefined): RouteRollupRecord {
  if (existing) cell.service.mergeEncoded(existing.service_hist);
  return {
    app: cell.app, res_ms: cell.resMs, bucket_ms: cell.bucketMs, method: cell.method, route: cell.route,
    count: cell.count + (existing?.count ?? 0),
    errors: cell.errors + (existing?.errors ?? 0),
    service_count: cell.serviceCount + (existing?.service_count ?? 0),
    service_sum_ms: cell.serviceSumMs + (existing?.service_sum_ms ?? 0),
    service_hist: cell.service.encode(),
  };
}
