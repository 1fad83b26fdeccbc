/**
 * @module status-routes
 * `GET /api/overview` and `GET /api/apps`: the header figures and the per-app cards.
 * An unreachable runtime is a normal answer (`reachable: false`), not an error, so the page can
 * show its banner and keep polling until the runtime is back.
 */
import type { FastifyInstance } from 'fastify';
import type { DashboardContext } from '../context.js';
import { appsBody, commonErrors, overviewBody } from '../schemas.js';
import { buildApps, buildOverview } from '../view-model.js';

export function registerStatusRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/api/overview', { schema: { response: { 200: overviewBody, ...commonErrors } } }, async () => {
    return buildOverview(await ctx.snapshots.get(), ctx.history !== null);
  });

  app.get('/api/apps', { schema: { response: { 200: appsBody, ...commonErrors } } }, async () => {
    const view = buildApps(await ctx.snapshots.get(), ctx.history, ctx.now());
    ctx.historyHealth.note(view.historyUnavailable);
    return view;
  });
}
