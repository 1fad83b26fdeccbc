/**
 * @module events-route
 * `GET /api/events`: server-sent events, one `update` frame (`{overview, apps}`, the bodies of
 * /api/overview and /api/apps) at once and then every 1.5 s. The page falls back to polling those
 * two routes when the stream fails.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../shared/errors.js';
import { MAX_STREAMS, type EventHub } from '../event-hub.js';

export function registerEventsRoute(app: FastifyInstance, hub: EventHub): void {
  app.get('/api/events', async (request, reply) => {
    // Each stream holds a descriptor of the supervisor's for as long as it is open.
    if (!hub.hasRoom()) throw new errors.DOW_ERR_DASHBOARD_BUSY(`${MAX_STREAMS} event streams are open; poll /api/overview and /api/apps instead`);
    // Hijacked: Fastify's onSend hooks no longer run, so the headers the guard set are copied.
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) if (typeof value === 'string') headers[name] = value;
    reply.hijack();
    reply.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    hub.add(reply.raw);
  });
}
