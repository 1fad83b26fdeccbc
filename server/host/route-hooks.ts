/**
 * @module route-hooks
 * What the loader adds to a Koa, Fastify or Hono app so that each request reports the route
 * template its framework matched (adapters/request-info.ts reportRouteTemplate). Express needs
 * none: it leaves `req.route` on the request (adapters/node/node-route.ts). Each hook only reads
 * what the framework decided; it never changes what the app answers.
 */
import type { IncomingMessage } from 'node:http';
import { reportRouteTemplate } from '../adapters/request-info.js';
import type { FetchHandler } from '../adapters/fetch/fetch-adapter.js';

interface KoaContext {
  req: IncomingMessage & { scgi?: unknown };
  /** Set by @koa/router to the matched layer's path (its prefix included). */
  _matchedRoute?: unknown;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * Koa composes `middleware` when callback() is called, so the hook goes first in the list before
 * that: it sees the route after the rest ran and before Koa writes the response.
 */
export function hookKoa(app: { middleware?: unknown }): void {
  if (!Array.isArray(app.middleware)) return;
  const hook: KoaMiddleware = async (ctx, next) => {
    try {
      await next();
    } finally {
      reportRouteTemplate(ctx.req.scgi, ctx._matchedRoute);
    }
  };
  (app.middleware as unknown[]).unshift(hook);
}

interface FastifyRequest {
  raw: IncomingMessage & { scgi?: unknown };
  routeOptions?: { url?: unknown };
}
type FastifyHook = (request: FastifyRequest, reply: unknown, done: () => void) => void;

/**
 * An onRequest hook on the root instance, added before ready() so that every plugin's routes
 * inherit it. Fastify's 404 handler has no url: unmatched paths report nothing.
 */
export function hookFastify(app: { addHook?: unknown }): void {
  if (typeof app.addHook !== 'function') return;
  const hook: FastifyHook = (request, _reply, done) => {
    reportRouteTemplate(request.raw.scgi, request.routeOptions?.url);
    done();
  };
  try {
    (app.addHook as (name: string, fn: FastifyHook) => void).call(app, 'onRequest', hook);
  } catch {
    // Already booted (the module called ready()): its rows carry folded paths instead.
  }
}

/** One entry of a Hono router's match: [[handler, route], params]. */
type HonoMatch = [[unknown, { method?: string; path?: string }], unknown];
interface HonoRouter {
  name?: string;
  add(method: string, path: string, handler: unknown): void;
  match(method: string, path: string): [HonoMatch[], ...unknown[]];
}

/**
 * Hono matches the route synchronously inside fetch() (router.match, before any await), so a
 * router that keeps its last answer tells which routes the call matched; the route is the last
 * of them that is not middleware (`use()` registers method ALL on a path ending in '*'), which
 * is what `c.req.routePath` gives in the handler that answers. The router object is wrapped, not
 * its match method: Hono's SmartRouter replaces its own match on first use.
 */
export function hookHono(app: { router?: unknown; fetch: FetchHandler }): FetchHandler {
  const fetch = app.fetch.bind(app);
  const router = app.router as HonoRouter | undefined;
  if (router === undefined || typeof router.match !== 'function' || typeof router.add !== 'function') return fetch;
  let matched: HonoMatch[] | null = null;
  app.router = {
    name: router.name,
    add: (method: string, path: string, handler: unknown) => router.add(method, path, handler),
    match: (method: string, path: string) => {
      const result = router.match(method, path);
      matched = result[0];
      return result;
    },
  } satisfies HonoRouter;
  return (request, info) => {
    matched = null;
    const response = fetch(request, info);
    reportRouteTemplate(info, lastRoute(matched));
    matched = null;
    return response;
  };
}

function lastRoute(matches: HonoMatch[] | null): string | undefined {
  if (matches === null) return undefined;
  for (let i = matches.length - 1; i >= 0; i--) {
    const route = matches[i]![0][1];
    if (route.method === 'ALL' && route.path?.endsWith('*') === true) continue;
    return route.path;
  }
  return undefined;
}
