/**
 * @module rollup-delta
 * Pure aggregation of a batch of rows into rollup cells per (app, resolution, bucket), and the
 * merge of a cell into a stored rollup row. The writer adds each cell to the row in one transaction.
 */
import { NEW_HISTOGRAMS, type HistogramSource, type LatencyHistogram } from '../../shared/histogram.js';
import { RESOLUTIONS_MS, type RollupRecord } from '../../shared/store/schema.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';

const US_PER_MS = 1000;

/*
 * Rejected requests (503 from the limiter) never held a thread, so they count everywhere but in
 * the service-time figures: otherwise an overload would make service p50 look faster. Queue wait
 * is recorded for every request, rejected ones included.
 */
export interface RollupCell {
  app: string;
  resMs: number;
  bucketMs: number;
  count: number;
  status: [number, number, number, number, number];
  rejected: number;
  timeouts: number;
  aborted: number;
  serviceCount: number;
  serviceSumMs: number;
  serviceMinMs: number;
  serviceMaxMs: number;
  service: LatencyHistogram;
  queue: LatencyHistogram;
}

/**
 * Rows are added once, to the finest resolution's cells; the coarser cells are then merged from
 * those (every resolution is a multiple of the finest, so a fine bucket nests in exactly one coarse
 * bucket). That is one histogram update per row instead of one per row per resolution.
 */
export function aggregate(rows: Iterable<TimingRow>, resolutions: readonly number[] = RESOLUTIONS_MS, histograms: HistogramSource = NEW_HISTOGRAMS): RollupCell[] {
  const [finest, ...coarser] = [...resolutions].sort((a, b) => a - b);
  if (finest === undefined) return [];
  const fine = new Map<string, RollupCell>();
  let last: RollupCell | undefined;
  for (const row of rows) {
    // A batch is mostly one app in one bucket: skip the key and the lookup while that holds.
    if (last === undefined || last.app !== row.app || row.startMs < last.bucketMs || row.startMs >= last.bucketMs + finest) {
      last = cellFor(fine, row.app, finest, row.startMs, histograms);
    }
    add(last, row);
  }
  const fineCells = [...fine.values()];
  const cells = [...fineCells];
  for (const resMs of coarser) {
    if (resMs % finest !== 0) throw new RangeError(`rollup resolution ${resMs} ms is not a multiple of ${finest} ms`);
    const coarse = new Map<string, RollupCell>();
    for (const cell of fineCells) mergeInto(cellFor(coarse, cell.app, resMs, cell.bucketMs, histograms), cell);
    cells.push(...coarse.values());
  }
  return cells;
}

function cellFor(cells: Map<string, RollupCell>, app: string, resMs: number, atMs: number, histograms: HistogramSource): RollupCell {
  const bucketMs = Math.floor(atMs / resMs) * resMs;
  const key = `${bucketMs}|${app}`;
  let cell = cells.get(key);
  if (cell === undefined) {
    cell = emptyCell(app, resMs, bucketMs, histograms);
    cells.set(key, cell);
  }
  return cell;
}

function mergeInto(target: RollupCell, source: RollupCell): void {
  target.count += source.count;
  for (let i = 0; i < 5; i++) target.status[i] = target.status[i]! + source.status[i]!;
  target.rejected += source.rejected;
  target.timeouts += source.timeouts;
  target.aborted += source.aborted;
  target.serviceCount += source.serviceCount;
  target.serviceSumMs += source.serviceSumMs;
  target.serviceMinMs = Math.min(target.serviceMinMs, source.serviceMinMs);
  target.serviceMaxMs = Math.max(target.serviceMaxMs, source.serviceMaxMs);
  target.service.merge(source.service);
  target.queue.merge(source.queue);
}

function emptyCell(app: string, resMs: number, bucketMs: number, histograms: HistogramSource): RollupCell {
  return {
    app, resMs, bucketMs, count: 0, status: [0, 0, 0, 0, 0], rejected: 0, timeouts: 0, aborted: 0,
    serviceCount: 0, serviceSumMs: 0, serviceMinMs: Infinity, serviceMaxMs: -Infinity,
    service: histograms.take(), queue: histograms.take(),
  };
}

function add(cell: RollupCell, row: TimingRow): void {
  cell.count++;
  const cls = Math.floor(row.status / 100);
  if (cls >= 1 && cls <= 5) cell.status[cls - 1] = cell.status[cls - 1]! + 1;
  if (row.outcome === Outcome.REJECTED) cell.rejected++;
  else if (row.outcome === Outcome.TIMEOUT) cell.timeouts++;
  else if (row.outcome === Outcome.ABORTED) cell.aborted++;
  cell.queue.record(row.queueMs * US_PER_MS);
  if (row.outcome === Outcome.REJECTED) return;
  cell.serviceCount++;
  cell.serviceSumMs += row.serviceMs;
  if (row.serviceMs < cell.serviceMinMs) cell.serviceMinMs = row.serviceMs;
  if (row.serviceMs > cell.serviceMaxMs) cell.serviceMaxMs = row.serviceMs;
  cell.service.record(row.serviceMs * US_PER_MS);
}

/** The stored row after adding `cell` to `existing` (undefined: a new bucket). */
export function mergeCell(cell: RollupCell, existing: RollupRecord | undefined): RollupRecord {
  let { count, rejected, timeouts, aborted, serviceCount, serviceSumMs } = cell;
  const s = [...cell.status];
  let min = cell.serviceCount > 0 ? cell.serviceMinMs : null;
  let max = cell.serviceCount > 0 ? cell.serviceMaxMs : null;
  if (existing) {
    count += existing.count;
    s[0]! += existing.s1xx; s[1]! += existing.s2xx; s[2]! += existing.s3xx; s[3]! += existing.s4xx; s[4]! += existing.s5xx;
    rejected += existing.rejected;
    timeouts += existing.timeouts;
    aborted += existing.aborted;
    serviceCount += existing.service_count;
    serviceSumMs += existing.service_sum_ms;
    min = minOf(min, existing.service_min_ms);
    max = maxOf(max, existing.service_max_ms);
    cell.service.mergeEncoded(existing.service_hist);
    cell.queue.mergeEncoded(existing.queue_hist);
  }
  return {
    app: cell.app, res_ms: cell.resMs, bucket_ms: cell.bucketMs, count,
    s1xx: s[0]!, s2xx: s[1]!, s3xx: s[2]!, s4xx: s[3]!, s5xx: s[4]!,
    rejected, timeouts, aborted,
    service_count: serviceCount, service_sum_ms: serviceSumMs, service_min_ms: min, service_max_ms: max,
    service_hist: cell.service.encode(), queue_hist: cell.queue.encode(),
  };
}

function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
