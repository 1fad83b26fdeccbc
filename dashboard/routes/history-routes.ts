/**
 * @module history-routes
 * `GET /api/apps/:name/series?window=` (chart data plus the limit changes and runtime events
 * inside the window, for markers), `GET /api/audit` (the limit-change log) and
 * `GET /api/runtime-events` (the worker event log). They read the timing store only, so they keep
 * working while the runtime is down; a store that cannot be read gives empty lists and
 * `historyUnavailable`, not an error, so the page can say why its history is empty.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import { WINDOWS_MS, type Series, type WindowName } from '../../shared/history.js';
import { readAudit, readEvents, type DashboardContext } from '../context.js';
import { firstReason, guardHistory } from '../history-guard.js';
import { appNameParams, auditBody, auditQuery, commonErrors, runtimeEventsBody, runtimeEventsQuery, seriesBody, seriesQuery } from '../schemas.js';

/** Without a store the charts get an empty series with the step they would have had. */
const EMPTY_POINTS = 60;
/**
 * A crash loop over 7 days could leave thousands of restarts; past a few hundred, lines on a
 * 600 px chart are a solid block anyway. The newest are kept.
 */
const MAX_EVENT_MARKERS = 300;

export function registerHistoryRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get<{ Params: { name: string }; Querystring: { window: WindowName } }>(
    '/api/apps/:name/series',
    { schema: { params: appNameParams, querystring: seriesQuery, response: { 200: seriesBody, ...commonErrors } } },
    async (request) => {
      const { name } = request.params;
      const known = ctx.snapshots.lastGood();
      // Only refuse names when the runtime told us its apps; while it is unreachable the store
      // still has their history.
      if (known && !known.apps.some((a) => a.name === name)) throw new errors.DOW_ERR_UNKNOWN_APP(name);
      const window = request.query.window;
      const toMs = ctx.now();
      const fromMs = toMs - WINDOWS_MS[window];
      const { history } = ctx;
      const empty = (): Series => ({ app: name, fromMs, toMs, stepMs: WINDOWS_MS[window] / EMPTY_POINTS, points: [] });
      const series = history ? guardHistory(() => history.series(name, fromMs, toMs), empty) : { value: empty(), unavailable: null };
      const markers = readAudit(ctx, { app: name, sinceMs: fromMs });
      const events = readEvents(ctx, { app: name, sinceMs: fromMs, limit: MAX_EVENT_MARKERS });
      const historyUnavailable = firstReason(series, markers, events);
      ctx.historyHealth.note(historyUnavailable);
      return {
        ...series.value,
        window,
        markers: markers.value.reverse(),
        events: events.value.reverse(),
        history: history !== null,
        historyUnavailable,
      };
    },
  );

  app.get<{ Querystring: { app?: string; sinceMs?: number; limit: number } }>(
    '/api/audit',
    { schema: { querystring: auditQuery, response: { 200: auditBody, ...commonErrors } } },
    async (request) => {
      const { app: appName, sinceMs, limit } = request.query;
      const options: { app?: string; sinceMs?: number; limit: number } = { limit };
      if (appName !== undefined) options.app = appName;
      if (sinceMs !== undefined) options.sinceMs = sinceMs;
      const read = readAudit(ctx, options);
      ctx.historyHealth.note(read.unavailable);
      return { entries: read.value, history: ctx.history !== null, historyUnavailable: read.unavailable };
    },
  );

  app.get<{ Querystring: { app?: string; sinceMs?: number; untilMs?: number; limit: number } }>(
    '/api/runtime-events',
    { schema: { querystring: runtimeEventsQuery, response: { 200: runtimeEventsBody, ...commonErrors } } },
    async (request) => {
      const { app: appName, sinceMs, untilMs, limit } = request.query;
      const options: { app?: string; sinceMs?: number; untilMs?: number; limit: number } = { limit };
      if (appName !== undefined) options.app = appName;
      if (sinceMs !== undefined) options.sinceMs = sinceMs;
      if (untilMs !== undefined) options.untilMs = untilMs;
      const read = readEvents(ctx, options);
      ctx.historyHealth.note(read.unavailable);
      return { entries: read.value, history: ctx.history !== null, historyUnavailable: read.unavailable };
    },
  );
}
