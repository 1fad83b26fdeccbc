/**
 * @module threads-mode-route
 * `PUT /api/apps/:name/threads-mode` with `{"mode": "adaptive"}` or `{"mode": "fixed"}`: resumes
 * an adaptive app's controller after an operator's limit fixed it, or fixes the limit where it is.
 * Guarded as every state-changing route (token, Host, Origin); the runtime audits the change.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import type { ThreadsMode } from '../../shared/runtime-control.js';
import { requireApp, type DashboardContext } from '../context.js';
import { appNameParams, commonErrors, threadsModeBody, threadsModeRequest } from '../schemas.js';
import { requestSource } from '../security/guard.js';

export function registerThreadsModeRoute(app: FastifyInstance, ctx: DashboardContext): void {
  app.put<{ Params: { name: string }; Body: { mode: ThreadsMode } }>(
    '/api/apps/:name/threads-mode',
    {
      schema: { params: appNameParams, body: threadsModeRequest, response: { 200: threadsModeBody, ...commonErrors } },
      attachValidation: true,
    },
    async (request) => {
      if (request.validationError) throw new errors.DOW_ERR_THREADS_MODE(JSON.stringify((request.body as { mode?: unknown } | null)?.mode ?? null));
      const { name } = request.params;
      await requireApp(ctx, name);
      // A dashboard in its own process reaches the runtime through the command table, which
      // carries limits only: there the mode is changed where the runtime runs.
      if (!ctx.control.setThreadsMode) throw new errors.DOW_ERR_THREADS_MODE_REMOTE(name);
      const result = await ctx.control.setThreadsMode(name, request.body.mode, requestSource(request));
      ctx.snapshots.invalidate();
      return result;
    },
  );
}
