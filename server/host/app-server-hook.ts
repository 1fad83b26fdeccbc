/**
 * @module app-server-hook
 * The two ways an app module takes upgraded connections beside its request handler:
 *   export function upgrade(req, socket, head)   -> node:http's 'upgrade' event, as is (ws noServer)
 *   export function onServer(server)             -> a node:http Server for libraries that attach to
 *                                                   one (socket.io, ws { server }, @hono/node-ws)
 * The server handed over never listens: the worker's own server admits each request (thread
 * limit, queue) and then emits it there, and emits each upgrade there once it passed the cap. So a
 * library that wraps the server's 'request' listeners (socket.io's long-polling) runs inside the
 * thread limit, and one that listens for 'upgrade' gets exactly what it would on its own server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errors } from '../../shared/errors.js';
import type { AppHandler, UpgradeListener } from '../adapters/app-handler.js';

export async function withUpgrades(handler: AppHandler, mod: Record<string, unknown>, appName: string): Promise<AppHandler> {
  const { upgrade, onServer } = mod;
  if (upgrade !== undefined) {
    if (typeof upgrade !== 'function') throw new errors.DOW_ERR_APP_MODULE(appName, `the export "upgrade" is ${typeof upgrade}, not a function (req, socket, head)`);
    handler.upgrade = upgrade as UpgradeListener;
  }
  if (onServer === undefined) return handler;
  if (typeof onServer !== 'function') throw new errors.DOW_ERR_APP_MODULE(appName, `the export "onServer" is ${typeof onServer}, not a function (server)`);
  const server = createServer();
  if (handler.type === 'node') {
    // The app's own listener first, so that a library that wraps the listeners (socket.io's
    // engine) finds it and passes on what is not its own.
    server.on('request', handler.listener);
    handler.listener = (req: IncomingMessage, res: ServerResponse) => void server.emit('request', req, res);
  }
  await (onServer as (server: Server) => unknown)(server);
  const exported = handler.upgrade;
  // Asked per upgrade: a library may attach its listener after onServer() returned.
  handler.upgrade = (req, socket, head) => {
    if (server.listenerCount('upgrade') > 0) server.emit('upgrade', req, socket, head);
    else if (exported !== undefined) exported(req, socket, head);
    else socket.destroy();
  };
  return handler;
}
