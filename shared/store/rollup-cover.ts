/**
 * @module rollup-cover
 * Pure choice of rollup resolutions for a time window: the series resolution by window length,
 * and a cover of a window by whole coarse buckets in the middle and finer ones at the edges.
 */
import { RESOLUTIONS_MS, ROUTE_RESOLUTIONS_MS, type ResolutionMs } from './schema.js';

/** Upper window length each resolution serves for a series (≈ 90-1440 points). */
const SERIES_MAX_WINDOW_MS: ReadonlyArray<[number, ResolutionMs]> = [
  [3_600_000, 10_000], // 15 min -> 90 points, 1 h -> 360
  [24 * 3_600_000, 60_000], // 6 h -> 360, 24 h -> 1440
];

export function seriesResolution(windowMs: number): ResolutionMs {
  for (const [maxMs, res] of SERIES_MAX_WINDOW_MS) if (windowMs <= maxMs) return res;
  return 3_600_000; // 7 d -> 168 points
}

/**
 * A route's series step: its finest rollup (a minute) up to a day's window (≤ 1440 points), then
 * hours (168 for 7 days). Route rollups have no 10 s level, so short windows have fewer points
 * than the app's series.
 */
export function routeSeriesResolution(windowMs: number): number {
  return windowMs <= 24 * 3_600_000 ? ROUTE_RESOLUTIONS_MS[0] : ROUTE_RESOLUTIONS_MS[1];
}

/** Rollup rows with `resMs` and `loMs <= bucket_ms < hiMs`. */
export interface CoverRange {
  resMs: number;
  loMs: number;
  hiMs: number;
}

/*
 * A window [from, to) over 10 s / 1 min / 1 h rollups:
 *
 *   from                                                             to
 *    |10s|10s|  1 min | 1 min |      1 h      |      1 h      | 1 min |10s|
 *
 * Whole hours in the middle, whole minutes around them, and 10 s buckets at each edge, which may
 * stick out of the window by less than 10 s. A 7-day window is thus ~168 + 118 + 12 blobs.
 */
export function coverWindow(fromMs: number, toMs: number, resolutions: readonly number[] = RESOLUTIONS_MS): CoverRange[] {
  const out: CoverRange[] = [];
  cover(fromMs, toMs, resolutions, resolutions.length - 1, out);
  return out;
}

/**
 * The cover of a window by per-route rollups: minute edges up to an hour's window, hour edges
 * beyond (a 24 h window then reads 24-26 h), days in the middle: at most ~60 buckets per route.
 */
export function coverRouteWindow(fromMs: number, toMs: number): CoverRange[] {
  return coverWindow(fromMs, toMs, toMs - fromMs <= 3_600_000 ? ROUTE_RESOLUTIONS_MS : ROUTE_RESOLUTIONS_MS.slice(1));
}

function cover(fromMs: number, toMs: number, resolutions: readonly number[], level: number, out: CoverRange[]): void {
  if (fromMs >= toMs) return;
  const res = resolutions[level]!;
  if (level === 0) {
    // Finest level: every bucket that overlaps the window.
    out.push({ resMs: res, loMs: Math.floor(fromMs / res) * res, hiMs: Math.ceil(toMs / res) * res });
    return;
  }
  const lo = Math.ceil(fromMs / res) * res;
  const hi = Math.floor(toMs / res) * res;
  if (lo >= hi) {
    cover(fromMs, toMs, resolutions, level - 1, out);
    return;
  }
  cover(fromMs, lo, resolutions, level - 1, out);
  out.push({ resMs: res, loMs: lo, hiMs: hi });
  cover(hi, toMs, resolutions, level - 1, out);
}
