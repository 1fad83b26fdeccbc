/**
 * @module app-stats
 * One app's live figures since start, in memory: what the stats port and the dashboard show now.
 * Pure counters plus a latency histogram; the history lives in the timing store.
 */
import { errors } from '../../shared/errors.js';
import { LatencyHistogram } from '../../shared/histogram.js';
import { RouteStats, type RouteFiguresData } from './route-stats.js';

/** AppStats as it crosses a process boundary (worker -> supervisor): plain numbers and one blob. */
export interface AppStatsData {
  requests: number;
  rejected: number;
  errors: number;
  timeouts: number;
  aborted: number;
  badRequests: number;
  onlineTime: number;
  longest: number;
  shortest: number;
  mean: number;
  m2: number;
  queueTime: number;
  /** LatencyHistogram.encode() of the durations. */
  durations: Uint8Array;
  /** Finished requests by status class, 1xx..5xx (see statusClass). */
  statusClasses: number[];
  /** LatencyHistogram.encode() of the queue waits. */
  queueWaits: Uint8Array;
  websockets: number;
  upgrades: number;
  upgradesRefused: number;
  websocketsClosed: number;
  /** Per route, only while `metrics.routeLabel` is on. */
  routes?: RouteFiguresData;
}

/** Status classes counted per app: 1xx, 2xx, 3xx, 4xx, 5xx. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * Index into STATUS_CLASSES. Node accepts statuses up to 999: 600 and above count as 5xx, as they
 * count as errors (status >= 500), so the classes always sum to the requests.
 */
export function statusClass(status: number): number {
  const c = Math.floor(status / 100) - 1;
  return c < 0 ? 0 : c > 4 ? 4 : c;
}

export class AppStats {
  /** Finished requests, whatever their status. */
  requests = 0;
  rejected = 0;
  /** Responses with a 5xx status, ours (500, 503, 504) included. */
  errors = 0;
  timeouts = 0;
  aborted = 0;
  /** Malformed SCGI requests refused before reaching the app (400, 408, 413, 431). */
  badRequests = 0;
  /** Sum of request durations (accept to response written), seconds. */
  onlineTime = 0;
  longest = 0;
  shortest = Infinity;
  /** Welford's running mean and sum of squared deviations, for a stable stddev. */
  mean = 0;
  m2 = 0;
  queueTime = 0;
  readonly durations = new LatencyHistogram();
  /** Finished requests by status class (STATUS_CLASSES). */
  readonly statusClasses = [0, 0, 0, 0, 0];
  /** Time each request waited for a slot (0 when it got one at once), for the queue-wait histogram. */
  readonly queueWaits = new LatencyHistogram();
  /**
   * Upgraded connections (WebSockets) the app holds now, and handed to it in all. They hold no
   * slot and are not requests: their figures stay out of the ones above (a session's hours would
   * swamp the latencies); each has a timing row when it ends.
   */
  websockets = 0;
  upgrades = 0;
  /** Upgrades answered 503: the app held maxUpgrades already, or the drain had closed its upgrades. */
  upgradesRefused = 0;
  /** Upgraded connections the server closed (1001/1012/1011) because the worker stopped. */
  websocketsClosed = 0;
  /** Per-route figures, kept only while `metrics.routeLabel` is on (null: off, no cost per request). */
  routes: RouteStats | null = null;

  /** Records a finished request; times in ms. `route` counts it under its route when those are kept. */
  record(durationMs: number, queueMs: number, status: number, route?: { method: string; route: string }): void {
    const seconds = durationMs / 1000;
    this.requests++;
    this.onlineTime += seconds;
    if (seconds > this.longest) this.longest = seconds;
    if (seconds < this.shortest) this.shortest = seconds;
    const delta = seconds - this.mean;
    this.mean += delta / this.requests;
    this.m2 += delta * (seconds - this.mean);
    this.queueTime += queueMs / 1000;
    if (status >= 500) this.errors++;
    this.durations.record(Math.round(durationMs * 1000));
    const c = statusClass(status);
    this.statusClasses[c] = this.statusClasses[c]! + 1;
    this.queueWaits.record(Math.round(queueMs * 1000));
    if (this.routes !== null && route !== undefined) this.routes.record(route.method, route.route, Math.round(durationMs * 1000), c);
  }

  toData(): AppStatsData {
    const { requests, rejected, errors, timeouts, aborted, badRequests, onlineTime, longest, shortest, mean, m2, queueTime } = this;
    const { websockets, upgrades, upgradesRefused, websocketsClosed } = this;
    return {
      requests, rejected, errors, timeouts, aborted, badRequests, onlineTime, longest, shortest, mean, m2, queueTime,
      websockets, upgrades, upgradesRefused, websocketsClosed,
      durations: this.durations.encode(),
      statusClasses: [...this.statusClasses],
      queueWaits: this.queueWaits.encode(),
      ...(this.routes === null ? {} : { routes: this.routes.toData() }),
    };
  }

  /**
   * Adds another process's figures: counters and sums add, extremes combine, and the running mean
   * and squared deviations merge exactly (Chan et al.'s parallel form of Welford's method), so the
   * stddev of all workers is the stddev of all requests, not an average of stddevs.
   */
  merge(other: AppStatsData): void {
    // Everything that can be malformed is checked before anything changes, so a bad message
    // leaves these figures as they were: the class counts, the queue waits (decoded aside), then
    // the routes, then the durations (mergeEncoded validates before it adds).
    const classes = other.statusClasses;
    if (!Array.isArray(classes) || classes.length !== STATUS_CLASSES.length || !classes.every((n) => Number.isFinite(n) && n >= 0)) {
      throw new errors.DOW_ERR_WORKER_FIGURES(`status classes ${JSON.stringify(classes)} are not ${STATUS_CLASSES.length} counts`);
    }
    const waits = LatencyHistogram.decode(other.queueWaits);
    const routes = other.routes === undefined ? null : RouteStats.decode(other.routes);
    this.durations.mergeEncoded(other.durations);
    if (routes !== null) (this.routes ??= new RouteStats()).merge(routes);
    this.queueWaits.merge(waits);
    classes.forEach((n, i) => (this.statusClasses[i] = this.statusClasses[i]! + n));
    const n = this.requests + other.requests;
    if (other.requests > 0) {
      const delta = other.mean - this.mean;
      this.m2 += other.m2 + (delta * delta * this.requests * other.requests) / n;
      this.mean += (delta * other.requests) / n;
    }
    this.requests = n;
    this.rejected += other.rejected;
    this.errors += other.errors;
    this.timeouts += other.timeouts;
    this.aborted += other.aborted;
    this.badRequests += other.badRequests;
    this.websockets += other.websockets;
    this.upgrades += other.upgrades;
    this.upgradesRefused += other.upgradesRefused;
    this.websocketsClosed += other.websocketsClosed;
    this.onlineTime += other.onlineTime;
    this.queueTime += other.queueTime;
    if (other.longest > this.longest) this.longest = other.longest;
    if (other.shortest < this.shortest) this.shortest = other.shortest;
  }

  /** Corrected sample standard deviation (n - 1), as the original computed it. */
  get stddev(): number {
    return this.requests < 2 ? 0 : Math.sqrt(this.m2 / (this.requests - 1));
  }

  get average(): number {
    return this.requests === 0 ? 0 : this.onlineTime / this.requests;
  }

  /** Percentile of durations in seconds, or null before any request finished. */
  percentile(q: number): number | null {
    const us = this.durations.percentile(q);
    return us === null ? null : us / 1e6;
  }
}
