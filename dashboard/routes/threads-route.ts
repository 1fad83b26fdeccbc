/**
 * @module threads-route
 * `PUT /api/apps/:name/threads` with `{"threads": N}`: the one state-changing route, used by the
 * page's Apply button and by API clients alike. By the time the handler runs the guard has
 * checked token, Host and Origin and the schema has checked N; the handler only checks that the
 * app exists, so a bad request never reaches the runtime.
 */
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { errors } from '../../shared/errors.js';
import { MAX_THREADS } from '../../shared/runtime-control.js';
import { requireApp, type DashboardContext } from '../context.js';
import { appNameParams, commonErrors, threadsBody, threadsRequest } from '../schemas.js';
import { requestSource } from '../security/guard.js';

export function registerThreadsRoute(app: FastifyInstance, ctx: DashboardContext): void {
  app.put<{ Params: { name: string }; Body: { threads: number } }>(
    '/api/apps/:name/threads',
    {
      schema: { params: appNameParams, body: threadsRequest, response: { 200: threadsBody, ...commonErrors } },
      // The handler turns a schema failure into our own error, so the page can say
      // "threads must be an integer from 1 to 1024, got 0" rather than an ajv path.
      attachValidation: true,
    },
    async (request) => {
      if (request.validationError) throw validationError(request.validationError, request.body);
      const { name } = request.params;
      const { threads } = request.body;
      await requireApp(ctx, name);

      const source = requestSource(request);
      const result = await ctx.control.setThreads(name, threads, source);
      ctx.snapshots.invalidate();
      if (!ctx.history) ctx.localAudit.add({ atMs: ctx.now(), app: name, oldThreads: result.oldThreads, newThreads: result.newThreads, source });
      // Not logged here: the runtime logs every change once, with its source.
      return result;
    },
  );
}

function validationError(err: Error & { validation?: FastifySchemaValidationError[] }, body: unknown): Error {
  const first = err.validation?.[0];
  if (first?.instancePath === '/threads' && typeof body === 'object' && body !== null) {
    return new errors.DOW_ERR_THREADS_RANGE(MAX_THREADS, JSON.stringify((body as { threads?: unknown }).threads));
  }
  return new errors.DOW_ERR_BAD_REQUEST(err.message);
}
