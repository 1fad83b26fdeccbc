/**
 * The proxy_pass peer: node:http serving the same hello listener as our runtime.
 * Usage: node node-http-server.mjs --listen 127.0.0.1:PORT [--ours-options]   (prints "listening <addr>")
 * --ours-options: the server options our `protocol: 'http'` listener passes to createServer
 * (server/http/http-listener.ts, with the default limits), for `npm run bench -- --http
 * --http-options-baseline`: what those options cost, apart from our per-request bookkeeping.
 */
import { createServer } from 'node:http';
import hello from './hello-listener.mjs';

const at = process.argv.indexOf('--listen');
const listen = process.argv[at + 1] ?? '';
const colon = listen.lastIndexOf(':');
if (at < 0 || colon < 0) throw new Error('usage: node-http-server.mjs --listen host:port');

const OURS_OPTIONS = {
  keepAliveTimeout: 75_000,
  headersTimeout: 10_000,
  requestTimeout: 0,
  connectionsCheckingInterval: 1000,
  maxHeaderSize: 64 * 1024,
};
const server = createServer(process.argv.includes('--ours-options') ? OURS_OPTIONS : {}, hello);
// Upstream keep-alive: nginx holds idle connections up to its own keepalive_timeout (60 s);
// node's default of 5 s would make it reconnect now and then, which is not what we measure.
if (!process.argv.includes('--ours-options')) server.keepAliveTimeout = 65_000;
server.listen({ host: listen.slice(0, colon), port: Number(listen.slice(colon + 1)), backlog: 1024 }, () => {
  process.stdout.write(`listening ${listen}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
