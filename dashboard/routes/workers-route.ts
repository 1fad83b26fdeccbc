/**
 * @module workers-route
 * `PUT /api/apps/:name/workers` with `{"workers": N}`: starts or drains an app's worker processes,
 * for the card's Scale control and API clients alike. Answers once the new count serves (added
 * workers listen, removed ones drained). The runtime refuses an in-process app and a count above
 * the thread limit with a 409 (checks shared with threads: setting-route.ts).
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import { describeScale, MAX_WORKERS } from '../../shared/runtime-control.js';
import type { DashboardContext } from '../context.js';
import { conflictErrors, workersBody, workersRequest } from '../schemas.js';
import { registerSettingRoute } from './setting-route.js';

export function registerWorkersRoute(app: FastifyInstance, ctx: DashboardContext): void {
  registerSettingRoute(app, ctx, {
    field: 'workers',
    max: MAX_WORKERS,
    rangeError: errors.DOW_ERR_WORKERS_RANGE,
    schema: { body: workersRequest, response: { 200: workersBody, ...conflictErrors } },
    apply: (c, name, workers, source) => c.control.setWorkers(name, workers, source),
    // With a store the runtime writes the `scale` event itself.
    remember: (c, r, source) => c.localEvents.add({ atMs: c.now(), app: r.app, kind: 'scale', pid: 0, detail: describeScale(r), source }),
  });
}
