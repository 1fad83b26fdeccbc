/**
 * @module setting-route
 * `PUT /api/apps/:name/<setting>` with `{"<setting>": N}`: what the thread-limit and worker-count
 * routes share. By the time the handler runs the guard has checked token, Host and Origin and the
 * schema has checked N; the handler checks that the app exists, so a bad request never reaches the
 * runtime, and a refusal from the runtime comes back as JSON (and a warning line: an operator's
 * action that did not happen).
 */
import type { FastifyInstance, FastifySchema, FastifySchemaValidationError } from 'fastify';
import { errors, isDragonError } from '../../shared/errors.js';
import { allowLongAnswer } from '../connection-limits.js';
import { requireApp, type DashboardContext } from '../context.js';
import { appNameParams } from '../schemas.js';
import { requestSource } from '../security/guard.js';

export interface SettingRoute<Result> {
  /** The path's last segment and the body's one field. */
  field: string;
  /** The schema's bounds, for the range error. */
  max: number;
  rangeError: new (max: number, got: string) => Error;
  schema: Required<Pick<FastifySchema, 'body' | 'response'>>;
  apply(ctx: DashboardContext, app: string, value: number, source: string): Promise<Result>;
  /** Without a store, what this dashboard keeps of the change for its tables and markers. */
  remember(ctx: DashboardContext, result: Result, source: string): void;
}

export function registerSettingRoute<Result>(app: FastifyInstance, ctx: DashboardContext, route: SettingRoute<Result>): void {
  app.put<{ Params: { name: string }; Body: Record<string, number> }>(
    `/api/apps/:name/${route.field}`,
    {
      schema: { params: appNameParams, ...route.schema },
      // The handler turns a schema failure into our own error, so the page can say
      // "threads must be an integer from 1 to 1024, got 0" rather than an ajv path.
      attachValidation: true,
    },
    async (request) => {
      if (request.validationError) throw validationError(route, request.validationError, request.body);
      const { name } = request.params;
      // The schema requires the field, an integer.
      const value = request.body[route.field] as number;
      await requireApp(ctx, name);

      const source = requestSource(request);
      // A scale down answers once the surplus workers have drained.
      allowLongAnswer(request);
      let result: Result;
      try {
        result = await route.apply(ctx, name, value, source);
      } catch (err) {
        if (isDragonError(err) && err.statusCode < 500) request.log.warn({ app: name, source, code: err.code }, err.message);
        throw err;
      } finally {
        ctx.snapshots.invalidate();
      }
      if (!ctx.history) route.remember(ctx, result, source);
      // Not logged here: the runtime logs every change once, with its source.
      return result;
    },
  );
}

function validationError(route: SettingRoute<unknown>, err: Error & { validation?: FastifySchemaValidationError[] }, body: unknown): Error {
  const first = err.validation?.[0];
  if (first?.instancePath === `/${route.field}` && typeof body === 'object' && body !== null) {
    return new route.rangeError(route.max, JSON.stringify((body as Record<string, unknown>)[route.field]));
  }
  return new errors.DOW_ERR_BAD_REQUEST(err.message);
}
