/**
 * @module threads-route
 * `PUT /api/apps/:name/threads` with `{"threads": N}`: an app's thread limit, used by the page's
 * Apply button and by API clients alike (checks and refusals: setting-route.ts).
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import { MAX_THREADS } from '../../shared/runtime-control.js';
import type { DashboardContext } from '../context.js';
import { commonErrors, threadsBody, threadsRequest } from '../schemas.js';
import { registerSettingRoute } from './setting-route.js';

export function registerThreadsRoute(app: FastifyInstance, ctx: DashboardContext): void {
  registerSettingRoute(app, ctx, {
    field: 'threads',
    max: MAX_THREADS,
    rangeError: errors.DOW_ERR_THREADS_RANGE,
    schema: { body: threadsRequest, response: { 200: threadsBody, ...commonErrors } },
    apply: (c, name, threads, source) => c.control.setThreads(name, threads, source),
    remember: (c, r, source) => c.localAudit.add({ atMs: c.now(), app: r.app, oldThreads: r.oldThreads, newThreads: r.newThreads, source }),
  });
}
