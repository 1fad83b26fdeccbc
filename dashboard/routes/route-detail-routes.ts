/**
 * @module route-detail-routes
 * Where an app's time goes: `GET /api/apps/:name/routes?window=` (each route's count, 5xx,
 * percentiles and total time, largest total first), `GET /api/apps/:name/slowest?window=&limit=`
 * (the slowest raw requests), `GET /api/apps/:name/routes/series?method=&route=&window=` (one
 * route's requests and percentiles per bucket, for its chart), `GET /api/apps/:name/inflight`
 * (requests running or queued now, oldest first) and `GET /api/apps/:name/processes` (each worker's pid, start, CPU time, RSS and
 * requests), each worker asked afresh. The first three read the store only, as the series does.
 */
import type { FastifyInstance } from 'fastify';
import { errors, isDragonError } from '../../shared/errors.js';
import { WINDOWS_MS, type RouteSeries, type RouteSummary, type SlowRequest, type WindowName } from '../../shared/history.js';
import { routeSeriesResolution } from '../../shared/store/rollup-cover.js';
import type { DashboardContext } from '../context.js';
import { guardHistory, type Guarded } from '../history-guard.js';
import { inflightBody, processesBody, routeSeriesBody, routeSeriesQuery, routesBody, routesQuery, slowestBody, slowestQuery } from '../route-schemas.js';
import { appNameParams, commonErrors } from '../schemas.js';

export function registerRouteDetailRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  /** As the series route: names are only refused when the runtime told us its apps. */
  function checkKnown(name: string): void {
    const known = ctx.snapshots.lastGood();
    if (known && !known.apps.some((a) => a.name === name)) throw new errors.DOW_ERR_UNKNOWN_APP(name);
  }

  function read<T>(run: () => T[]): Guarded<T[]> {
    const { history } = ctx;
    const result = history ? guardHistory(run, () => []) : { value: [], unavailable: null };
    ctx.historyHealth.note(result.unavailable);
    return result;
  }

  app.get<{ Params: { name: string }; Querystring: { window: WindowName } }>(
    '/api/apps/:name/routes',
    { schema: { params: appNameParams, querystring: routesQuery, response: { 200: routesBody, ...commonErrors } } },
    async (request) => {
      const { name } = request.params;
      checkKnown(name);
      const window = request.query.window;
      const toMs = ctx.now();
      const fromMs = toMs - WINDOWS_MS[window];
      const routes = read<RouteSummary>(() => ctx.history!.routes(name, fromMs, toMs));
      return { app: name, window, fromMs, toMs, routes: routes.value, history: ctx.history !== null, historyUnavailable: routes.unavailable };
    },
  );

  app.get<{ Params: { name: string }; Querystring: { window: WindowName; method: string; route: string } }>(
    '/api/apps/:name/routes/series',
    { schema: { params: appNameParams, querystring: routeSeriesQuery, response: { 200: routeSeriesBody, ...commonErrors } } },
    async (request) => {
      const { name } = request.params;
      checkKnown(name);
      const { window, method, route } = request.query;
      const toMs = ctx.now();
      const fromMs = toMs - WINDOWS_MS[window];
      const { history } = ctx;
      const empty = (): RouteSeries => ({ app: name, method, route, fromMs, toMs, stepMs: routeSeriesResolution(toMs - fromMs), points: [] });
      const series = history ? guardHistory(() => history.routeSeries(name, method, route, fromMs, toMs), empty) : { value: empty(), unavailable: null };
      ctx.historyHealth.note(series.unavailable);
      return { ...series.value, window, history: history !== null, historyUnavailable: series.unavailable };
    },
  );

  app.get<{ Params: { name: string }; Querystring: { window: WindowName; limit: number } }>(
    '/api/apps/:name/slowest',
    { schema: { params: appNameParams, querystring: slowestQuery, response: { 200: slowestBody, ...commonErrors } } },
    async (request) => {
      const { name } = request.params;
      checkKnown(name);
      const { window, limit } = request.query;
      const toMs = ctx.now();
      const slowest = read<SlowRequest>(() => ctx.history!.slowest(name, toMs - WINDOWS_MS[window], toMs, limit));
      return { app: name, window, requests: slowest.value, history: ctx.history !== null, historyUnavailable: slowest.unavailable };
    },
  );

  /** The runtime's answer, its own errors kept: an unknown app stays a 404. */
  async function ask<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isDragonError(err)) throw err;
      throw new errors.DOW_ERR_RUNTIME_UNREACHABLE(err instanceof Error ? err.message : String(err));
    }
  }

  app.get<{ Params: { name: string } }>(
    '/api/apps/:name/processes',
    { schema: { params: appNameParams, response: { 200: processesBody, ...commonErrors } } },
    async (request) => {
      const { name } = request.params;
      const control = ctx.control;
      if (control.workerProcesses === undefined) return { app: name, atMs: ctx.now(), available: false, workers: [] };
      const workers = await ask(() => control.workerProcesses!(name));
      return { app: name, atMs: ctx.now(), available: true, workers };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/apps/:name/inflight',
    { schema: { params: appNameParams, response: { 200: inflightBody, ...commonErrors } } },
    async (request) => {
      const { name } = request.params;
      const control = ctx.control;
      if (control.requestsNow === undefined) return { app: name, atMs: ctx.now(), available: false, requests: [] };
      const list = await ask(() => control.requestsNow!(name));
      const atMs = ctx.now();
      return {
        app: name,
        atMs,
        available: true,
        requests: list.map((r) => ({ method: r.method, path: r.path, route: r.route, ageMs: Math.max(0, atMs - r.startMs), queued: r.queued, worker: r.worker })),
      };
    },
  );
}
