/**
 * @module app-loader
 * Turns whatever a user's module exports into a handler the runtime can run, unchanged:
 *   Express app or any `(req, res)` function      -> Node listener
 *   Koa app (has `callback()`)                     -> its callback()
 *   Fastify instance (has `ready()` and `server`)  -> its server's 'request' handler, after ready()
 *   Hono app or any object with `fetch()`          -> fetch handler
 *   a function with type: 'fetch'                  -> fetch handler
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors } from '../shared/errors.js';
import type { AppHandler } from './app-host.js';
import type { FetchHandler } from './adapters/fetch/fetch-adapter.js';
import type { NodeListener } from './adapters/node/node-adapter.js';

export type AppType = 'node' | 'fetch' | 'auto';

interface KoaLike {
  callback(): NodeListener;
}
interface FastifyLike {
  ready(): Promise<unknown>;
  server: { emit(event: 'request', req: IncomingMessage, res: ServerResponse): boolean };
}
interface FetchLike {
  fetch: FetchHandler;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

export async function toAppHandler(value: unknown, type: AppType, appName: string): Promise<AppHandler> {
  const fail = (why: string): never => {
    throw new errors.DOW_ERR_APP_MODULE(appName, why);
  };
  if (!isObject(value)) return fail(`the export is ${value === null ? 'null' : typeof value}, not an app`);
  const fastify = typeof value.ready === 'function' && isObject(value.server) && typeof (value.server as { emit?: unknown }).emit === 'function';
  if (type === 'fetch' || (type === 'auto' && typeof value.fetch === 'function' && !fastify)) {
    if (typeof value.fetch === 'function') return { type: 'fetch', handler: (value as unknown as FetchLike).fetch.bind(value) };
    if (typeof value === 'function') return { type: 'fetch', handler: value as unknown as FetchHandler };
    return fail('type is "fetch" but the export is neither a function nor has a fetch() method');
  }
  if (fastify) {
    // Fastify routes requests from its own http.Server's 'request' event; it never needs to listen.
    const app = value as unknown as FastifyLike;
    await app.ready();
    return { type: 'node', listener: (req, res) => app.server.emit('request', req, res) };
  }
  if (typeof value.callback === 'function' && typeof value.use === 'function') {
    return { type: 'node', listener: (value as unknown as KoaLike).callback() };
  }
  if (typeof value === 'function') return { type: 'node', listener: value as unknown as NodeListener };
  return fail('the export is not a (req, res) function, an Express/Koa/Fastify app, or an object with fetch()');
}

/** Imports `modulePath` (relative to `baseDir`) and adapts its export `exportName`. */
export async function loadApp(modulePath: string, exportName: string, type: AppType, appName: string, baseDir: string): Promise<AppHandler> {
  const url = pathToFileURL(resolve(baseDir, modulePath)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new errors.DOW_ERR_APP_MODULE(appName, `cannot load module ${modulePath}: ${(err as Error).message}`);
  }
  if (!(exportName in mod)) {
    throw new errors.DOW_ERR_APP_MODULE(appName, `module ${modulePath} has no export named ${JSON.stringify(exportName)}`);
  }
  return toAppHandler(mod[exportName], type, appName);
}
