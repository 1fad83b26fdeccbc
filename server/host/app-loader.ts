/**
 * @module app-loader
 * Turns whatever a user's module exports into a handler the runtime can run, unchanged:
 *   Express app or any `(req, res)` function      -> Node listener
 *   Koa app (has `callback()`)                     -> its callback()
 *   Fastify instance (has `ready()` and `server`)  -> its server's 'request' handler, after ready()
 *   Hono app or any object with `fetch()`          -> fetch handler
 *   a function with type: 'fetch'                  -> fetch handler
 *   any other function under type: 'auto'         -> Node listener until it returns a Response
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { errors } from '../../shared/errors.js';
import type { AppHandler } from '../adapters/app-handler.js';
import type { FetchHandler } from '../adapters/fetch/fetch-adapter.js';
import type { NodeListener } from '../adapters/node/node-adapter.js';
import { sniffFetchHandler } from '../adapters/node/fetch-sniffer.js';
import { describeLoadError } from './load-error.js';
import { withUpgrades } from './app-server-hook.js';
import { hookFastify, hookHono, hookKoa } from './route-hooks.js';

export type AppType = 'node' | 'fetch' | 'auto';

interface KoaLike {
  callback(): NodeListener;
}
interface FastifyLike {
  ready(): Promise<unknown>;
  server: {
    emit(event: 'request', req: IncomingMessage, res: ServerResponse): boolean;
    emit(event: 'upgrade', req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
    listenerCount(event: 'upgrade'): number;
    listening: boolean;
    address(): unknown;
  };
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
  if (!isObject(value)) return fail(notAnApp(value));
  const fastify = typeof value.ready === 'function' && isObject(value.server) && typeof (value.server as { emit?: unknown }).emit === 'function';
  if (type === 'fetch' || (type === 'auto' && typeof value.fetch === 'function' && !fastify)) {
    if (typeof value.fetch === 'function') {
      const kind = fetchKind(value);
      const handler = kind === HONO ? hookHono(value as unknown as FetchLike) : (value as unknown as FetchLike).fetch.bind(value);
      return { type: 'fetch', handler, kind };
    }
    if (typeof value === 'function') return { type: 'fetch', handler: value as unknown as FetchHandler, kind: 'fetch handler' };
    return fail('type is "fetch" but the export is neither a function nor has a fetch() method');
  }
  if (fastify) {
    // Fastify routes requests from its own http.Server's 'request' event; it never needs to listen.
    const app = value as unknown as FastifyLike;
    hookFastify(value);
    await app.ready();
    // listen() binds right after ready(): one turn of the event loop shows whether it was called.
    await new Promise((resolve) => setImmediate(resolve));
    if (app.server.listening) {
      const address = app.server.address() as { address: string; port: number } | string | null;
      const where = typeof address === 'object' && address !== null ? `${address.address}:${address.port}` : String(address);
      return fail(`the Fastify app is already listening on ${where} (the module called listen()); export the instance without calling listen(): requests reach it through its server's 'request' event, no port needed`);
    }
    const handler: AppHandler = { type: 'node', listener: (req, res) => app.server.emit('request', req, res), kind: 'Fastify app' };
    // Its plugins (@fastify/websocket) listen for 'upgrade' on its server, registered by ready().
    if (app.server.listenerCount('upgrade') > 0) handler.upgrade = (req, socket, head) => app.server.emit('upgrade', req, socket, head);
    return handler;
  }
  if (typeof value.callback === 'function' && typeof value.use === 'function') {
    hookKoa(value);
    return { type: 'node', listener: (value as unknown as KoaLike).callback(), kind: 'Koa app' };
  }
  if (isNetServer(value)) {
    return fail('the export is a listening server (the result of app.listen()); export the app itself (export default app) and do not call listen(): the front end reaches it through this server');
  }
  const express = typeof value.handle === 'function' && typeof value.set === 'function';
  if (typeof value === 'function') {
    if (express) return { type: 'node', listener: value as unknown as NodeListener, kind: 'Express app' };
    if (type === 'node') return { type: 'node', listener: value as unknown as NodeListener, kind: '(req, res) listener' };
    // 'auto': a plain function may be either kind; the first Response it returns tells.
    const handler: AppHandler = {
      type: 'node',
      kind: '(req, res) function',
      listener: sniffFetchHandler(value as (...args: unknown[]) => unknown, () => {
        handler.kind = 'fetch handler (detected: it returned a Response)';
        onFetchDetected?.(appName);
      }),
    };
    return handler;
  }
  if (isPromise(value)) {
    return fail('the export is a Promise (the result of Fastify\'s app.listen()?); export the Fastify instance itself, without calling listen()');
  }
  // `serve x.mjs` takes a module for an app unless it is named *.config.mjs (bin/serve-target.ts).
  if (Array.isArray(value.apps)) return fail('the export is a config (it has apps), not an app; name the file *.config.mjs (or .js, .cjs) for serve to read it as a config');
  return fail('the export is not a (req, res) function, an Express/Koa/Fastify app, or an object with fetch()');
}

/** Set by the process that serves apps: told when a plain function turns out to be a fetch handler. */
let onFetchDetected: ((appName: string) => void) | null = null;

export function onFetchHandlerDetected(callback: ((appName: string) => void) | null): void {
  onFetchDetected = callback;
}

/** "Express app", "Hono app"...: what the loader recognised, for the start log. */
export function describeHandler(handler: AppHandler | undefined): string {
  if (handler === undefined) return 'app';
  return handler.kind ?? (handler.type === 'fetch' ? 'fetch handler' : 'Node listener');
}

const HONO = 'Hono app';

function fetchKind(value: Record<string, unknown>): string {
  // Hono's app has fetch() beside its route methods; anything else with fetch() is served the same way.
  return typeof value.route === 'function' && typeof value.get === 'function' ? HONO : 'object with fetch()';
}

function isNetServer(value: unknown): boolean {
  return value instanceof NetServer;
}

function isPromise(value: unknown): boolean {
  return isObject(value) && typeof value.then === 'function';
}

function notAnApp(value: unknown): string {
  if (typeof value === 'string' && /^https?:\/\//.test(value)) {
    return `the export is the string ${JSON.stringify(value)} (the address Fastify's listen() resolves to?); export the Fastify instance itself, without calling listen()`;
  }
  return `the export is ${value === null ? 'null' : typeof value}, not an app`;
}

/** Imports `modulePath` (relative to `baseDir`) and adapts its export `exportName`. */
export async function loadApp(modulePath: string, exportName: string, type: AppType, appName: string, baseDir: string): Promise<AppHandler> {
  const url = pathToFileURL(resolve(baseDir, modulePath)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new errors.DOW_ERR_APP_MODULE(appName, `cannot load module ${modulePath}: ${describeLoadError(err, resolve(baseDir, modulePath))}`);
  }
  if (!(exportName in mod)) {
    throw new errors.DOW_ERR_APP_MODULE(appName, `module ${modulePath} has no export named ${JSON.stringify(exportName)}`);
  }
  return withUpgrades(await toAppHandler(mod[exportName], type, appName), mod, appName);
}
