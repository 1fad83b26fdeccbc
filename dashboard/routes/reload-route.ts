/**
 * @module reload-route
 * `POST /api/apps/:name/reload` (no body, or `{}`): a graceful reload of one app's worker
 * processes with freshly loaded code, for the page's Reload button and API clients alike. The
 * guard has checked token, Host and Origin as for a thread-limit change; the handler only checks
 * that the app exists and leaves the rest (an in-process app, new code that fails to load) to
 * the runtime, whose refusal comes back as JSON.
 */
import type { FastifyInstance } from 'fastify';
import { errors, isDragonError, type DragonError } from '../../shared/errors.js';
import type { ReloadResult } from '../../shared/runtime-control.js';
import { allowLongAnswer } from '../connection-limits.js';
import { requireApp, type DashboardContext } from '../context.js';
import { appNameParams, conflictErrors, reloadBody, reloadRequest } from '../schemas.js';
import { requestSource } from '../security/guard.js';

export function registerReloadRoute(app: FastifyInstance, ctx: DashboardContext): void {
  app.post<{ Params: { name: string }; Body: Record<string, never> }>(
    '/api/apps/:name/reload',
    {
      schema: { params: appNameParams, body: reloadRequest, response: { 200: reloadBody, ...conflictErrors } },
      // `curl -X POST` sends no body at all: that means `{}`, and the schema still refuses fields.
      preValidation: async (request) => {
        (request as { body: unknown }).body ??= {};
      },
    },
    async (request) => {
      const { name } = request.params;
      await requireApp(ctx, name);
      // No `workers > 0` check: a crash-looping app has no live worker while it backs off, and
      // a reload with fixed code is just what it needs. The runtime refuses in-process apps.

      const source = requestSource(request);
      allowLongAnswer(request);
      let result: ReloadResult;
      try {
        result = await ctx.control.reload(name, source);
      } catch (err) {
        const refusal = reloadFailure(name, err);
        // error-reply logs the 5xx; a refused reload is still an operator's action worth a line.
        if (refusal.statusCode < 500) request.log.warn({ app: name, source, code: refusal.code }, refusal.message);
        throw refusal;
      } finally {
        ctx.snapshots.invalidate();
      }
      // With a store the runtime writes the `reload` event itself; without one, this dashboard
      // remembers it, as it does limit changes.
      if (!ctx.history) ctx.localEvents.add({ atMs: ctx.now(), app: name, kind: 'reload', pid: 0, detail: describeReload(result), source });
      // Not logged here: the worker pool logs every reload once, with its source.
      return result;
    },
  );
}

/** Our errors keep their code and status; anything else still reaches the page as a clear 409. */
function reloadFailure(app: string, err: unknown): DragonError {
  if (isDragonError(err)) return err;
  return new errors.DOW_ERR_RELOAD(app, err instanceof Error ? err.message : String(err));
}

export function describeReload(r: ReloadResult): string {
  const pids = (list: number[]): string => (list.length > 0 ? list.join(' ') : 'none');
  return `pids ${pids(r.oldPids)} → ${pids(r.newPids)} in ${Math.round(r.tookMs)} ms`;
}
