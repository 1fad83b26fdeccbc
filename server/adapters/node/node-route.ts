/**
 * @module node-route
 * The route template a request's framework matched, read once the app answered: a Koa, Fastify
 * or Hono hook (host/route-hooks.ts) leaves it on `req.scgi`; Express leaves `req.route` and
 * `req.baseUrl` on the request itself.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestInfo } from '../request-info.js';

type ExpressRequest = IncomingMessage & {
  route?: { path?: unknown };
  baseUrl?: string;
};

/** Null when no framework matched a route (a plain listener, an unmatched path, a static file). */
export function templateOf(info: RequestInfo | null, req: IncomingMessage | null, mount: string): string | null {
  const hooked = info?.routeTemplate ?? null;
  if (hooked !== null || req === null) return hooked;
  const routed = req as ExpressRequest;
  const path = routed.route?.path;
  if (path === undefined) return null;
  // A route under app.use('/api', router) has '/items/:id' as its path and '/api' as baseUrl;
  // the mount is ours (the adapters set it as the base), so rows name routes the app's way.
  let base = routed.baseUrl ?? '';
  if (mount !== '' && base.startsWith(mount)) base = base.slice(mount.length);
  const template = base + (typeof path === 'string' ? path : String(path));
  return template === '' ? '/' : template;
}
