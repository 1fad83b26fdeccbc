/**
 * @module demo-app
 * The original's demo app: a text/plain page with the welcome banner, the version, the request's
 * environment sorted by name (`KEY = value`) and the current time. It reads the raw SCGI
 * environment through `req.scgi`, the way WSGI apps read their environ.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VERSION } from '../core/version.js';

export function createDemoApp(name: string) {
  return function demoApp(req: IncomingMessage, res: ServerResponse): void {
    const env = req.scgi?.env ?? {};
    const lines = Object.keys(env)
      .sort()
      .map((key) => `${key} = ${env[key]}`);
    const stats = req.scgi?.stats();
    const body = [
      `Welcome to Dragon on wheels! (${name})`,
      `Version: ${VERSION}`,
      '',
      'Request environment:',
      ...lines,
      '',
      `This app: ${stats ? `${stats.requests} requests served, ${stats.online} in flight, thread limit ${stats.threads}` : ''}`,
      `Time: ${new Date().toString()}`,
      '',
    ].join('\n');
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
}
