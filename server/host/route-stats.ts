/**
 * @module route-stats
 * One app's live figures per route (status classes and a latency histogram), for the metrics
 * listener's opt-in `route` label. Bounded as the store bounds its routes: ROUTES_PER_APP distinct
 * (method, route) pairs, the rest together under OVERFLOW_ROUTE, so a scanner cannot grow the
 * series count. Kept only when `metrics.routeLabel` is on: each route holds a histogram.
 */
import { errors } from '../../shared/errors.js';
import { LatencyHistogram } from '../../shared/histogram.js';
import { OVERFLOW_ROUTE, ROUTES_PER_APP } from '../../shared/store/schema.js';

/** As it crosses a process boundary: method, route, counts by status class, LatencyHistogram.encode(). */
export type RouteFiguresData = Array<[method: string, route: string, statusClasses: number[], durations: Uint8Array]>;

export interface RouteFigures {
  method: string;
  route: string;
  /** Finished requests by status class, 1xx..5xx (app-stats.ts STATUS_CLASSES). */
  readonly statusClasses: number[];
  readonly durations: LatencyHistogram;
}

export type DecodedRoutes = readonly RouteFigures[];

const CLASS_COUNT = 5;

export class RouteStats {
  private readonly routes = new Map<string, RouteFigures>();

  /** Hot path when on: one map lookup; `durationUs` whole or not, `statusClass` an index into the classes. */
  record(method: string, route: string, durationUs: number, statusClass: number): void {
    const figures = this.place(method, route);
    figures.statusClasses[statusClass] = figures.statusClasses[statusClass]! + 1;
    figures.durations.record(durationUs);
  }

  /** Every route with figures, the overflow route among them once it has any. */
  all(): Iterable<RouteFigures> {
    return this.routes.values();
  }

  toData(): RouteFiguresData {
    return [...this.routes.values()].map((r) => [r.method, r.route, [...r.statusClasses], r.durations.encode()]);
  }

  /**
   * A process's routes checked whole (a malformed entry throws), to be added with `merge` once
   * everything else in its message checked out too.
   */
  static decode(data: RouteFiguresData): DecodedRoutes {
    if (!Array.isArray(data)) throw new errors.DOW_ERR_WORKER_FIGURES(`routes are ${typeof data}, not a list`);
    return data.map((entry) => {
      const [method, route, classes, durations] = Array.isArray(entry) ? entry : [];
      if (typeof method !== 'string' || typeof route !== 'string') throw new errors.DOW_ERR_WORKER_FIGURES(`a route entry ${JSON.stringify(entry)} has no method and route`);
      if (!Array.isArray(classes) || classes.length !== CLASS_COUNT || !classes.every((n) => Number.isFinite(n) && n >= 0)) {
        throw new errors.DOW_ERR_WORKER_FIGURES(`route ${method} ${route}: status classes ${JSON.stringify(classes)} are not ${CLASS_COUNT} counts`);
      }
      return { method, route, statusClasses: classes, durations: LatencyHistogram.decode(durations as Uint8Array) };
    });
  }

  /**
   * Adds another process's routes under this bound: workers each bound their own, and their
   * union may pass it, so the routes beyond it here join the overflow route.
   */
  merge(routes: DecodedRoutes): void {
    for (const { method, route, statusClasses, durations } of routes) {
      const figures = this.place(method, route);
      statusClasses.forEach((n, i) => (figures.statusClasses[i] = figures.statusClasses[i]! + n));
      figures.durations.merge(durations);
    }
  }

  private place(method: string, route: string): RouteFigures {
    const key = `${method} ${route}`;
    let figures = this.routes.get(key);
    if (figures !== undefined) return figures;
    // The overflow route is not one of the ROUTES_PER_APP: with it, one series more at most.
    const overflowing = this.routes.size - (this.routes.has(OVERFLOW_KEY) ? 1 : 0) >= ROUTES_PER_APP;
    if (overflowing && key !== OVERFLOW_KEY) return this.place(OVERFLOW_ROUTE.method, OVERFLOW_ROUTE.route);
    figures = { method, route, statusClasses: new Array<number>(CLASS_COUNT).fill(0), durations: new LatencyHistogram() };
    this.routes.set(key, figures);
    return figures;
  }
}

const OVERFLOW_KEY = `${OVERFLOW_ROUTE.method} ${OVERFLOW_ROUTE.route}`;
