/**
 * Upgraded connections (WebSockets) on `protocol: 'http'` apps, in-process over real sockets: the
 * module's `upgrade` export and `onServer` hook, a Fastify app's own 'upgrade' listeners, an app
 * that takes none, the thread limit left free, maxUpgrades, the figures, the rows, trustProxy and
 * the drain's close frame.
 */
import { test } from 'node:test';
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadApp } from '../../server/host/app-loader.js';
import { rowRecorder, portOf } from '../helpers/http-listener.js';
import { httpGet } from '../helpers/http-get.js';
import { startRuntime, type RunningRuntime } from '../helpers/runtime.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';
import { connectWs, openWs, wsEchoAppSource, type WsClient } from '../helpers/ws-client.js';
import type { TimingRecorder } from '../../shared/timing-row.js';
import { CloseCode } from '../../server/protocol/websocket-close.js';

/** A runtime serving one HTTP app from `source`, written as a module and loaded as workers load it. */
async function serveModule(t: TestContext, source: string, app: { threads?: number; maxUpgrades?: number; trustProxy?: string[]; upgradeDrainTimeoutMs?: number } = {}, recorder?: TimingRecorder): Promise<{ rt: RunningRuntime; url: string }> {
  const dir = await testDir(t, 'http-upgrades');
  const path = join(dir, 'app.mjs');
  await writeFile(path, source);
  const handler = await loadApp(path, 'default', 'auto', 'ws', dir);
  const rt = await startRuntime(t, [{ name: 'ws', protocol: 'http', handler, ...app }], recorder ? { recorder } : {});
  return { rt, url: `http://127.0.0.1:${portOf(rt, 'ws')}` };
}

test('export upgrade: echo, plain requests admitted beside open WebSockets with threads 1, figures and one 101 row per session', async (t) => {
  const recorder = rowRecorder();
  const { rt, url } = await serveModule(t, wsEchoAppSource('v1'), { threads: 1 }, recorder);
  const clients: WsClient[] = [];
  for (let i = 0; i < 5; i++) clients.push(await openWs(`${url}/chat`));
  for (const [i, client] of clients.entries()) assert.equal(await client.echo(`hello ${i}`), `v1:hello ${i}`);
  // Five sockets open and one thread: each plain request still gets the thread at once.
  for (let i = 0; i < 3; i++) assert.equal((await httpGet(`${url}/plain`)).body, 'v1 plain');
  let figures = rt.figures();
  assert.equal(figures.get('ws_websockets'), '5');
  assert.equal(figures.get('ws_upgrades'), '5');
  assert.equal(figures.get('ws_online'), '0');
  assert.equal(figures.get('ws_requests'), '3');
  const first = clients[0] as WsClient;
  for (let i = 0; i < 1000; i++) assert.equal(await first.echo(`m${i}`), `v1:m${i}`);
  for (const client of clients) assert.equal((await client.close()).code, 1000);
  figures = await waitUntil('every session ended', () => (rt.figures().get('ws_websockets') === '0' ? rt.figures() : undefined));
  assert.equal(figures.get('ws_upgrades'), '5');
  const sessions = await waitUntil('five session rows', () => {
    const rows = recorder.rows.filter((row) => row.status === 101);
    return rows.length === 5 ? rows : undefined;
  });
  const busiest = sessions.find((row) => row.bytesIn > 8000);
  assert.ok(busiest, `a row with the 1000 messages' bytes: ${JSON.stringify(sessions)}`);
  assert.ok(busiest.bytesOut > 8000);
  assert.equal(busiest.method, 'GET');
  assert.equal(busiest.path, '/chat');
});

test('maxUpgrades: the upgrade past it is answered 503 with Retry-After, counted, and the others go on', async (t) => {
  const recorder = rowRecorder();
  const { rt, url } = await serveModule(t, wsEchoAppSource('v1'), { maxUpgrades: 2 }, recorder);
  const a = await openWs(url);
  const b = await openWs(url);
  const refused = await connectWs(url);
  assert.ok('status' in refused);
  assert.equal(refused.status, 503);
  assert.match(refused.body, /too many upgraded connections/);
  assert.equal(rt.figures().get('ws_upgrades_refused'), '1');
  assert.ok(recorder.rows.some((row) => row.status === 503));
  assert.equal(await a.echo('still'), 'v1:still');
  await b.close();
  await waitUntil('one slot free', () => rt.figures().get('ws_websockets') === '1');
  const c = await openWs(url);
  assert.equal(await c.echo('in'), 'v1:in');
  await Promise.all([a.close(), c.close()]);
});

test('an app that takes no upgrades: an Upgrade request is an ordinary request, as under node:http alone', async (t) => {
  const { rt, url } = await serveModule(t, 'export default (req, res) => res.end(`ordinary ${req.headers.upgrade}`);\n');
  const result = await connectWs(url);
  assert.ok('status' in result);
  assert.equal(result.status, 200);
  assert.equal(result.body, 'ordinary websocket');
  assert.equal(rt.figures().get('ws_upgrades'), '0');
});

test('onServer: an Express app keeps its routes, a library wrapping the request listeners runs inside the thread limit, and the server gets the upgrades', async (t) => {
  // The engine part is what socket.io's engine does in attach(): it takes the server's request
  // listeners and calls them for every path that is not its own.
  const { rt, url } = await serveModule(t, wsEchoAppSource('v2', `import express from '${import.meta.resolve('express')}';
const app = express();
app.get('/page', (req, res) => res.send('express page'));
export default app;
export function onServer(server) {
  const listeners = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => req.url.startsWith('/engine/') ? res.end('engine polling') : listeners.forEach((l) => l.call(server, req, res)));
  server.on('upgrade', accept);
}
`));
  assert.equal((await httpGet(`${url}/page`)).body, 'express page');
  assert.equal((await httpGet(`${url}/engine/?EIO=4`)).body, 'engine polling');
  assert.equal(rt.figures().get('ws_requests'), '2');
  const client = await openWs(`${url}/engine/?transport=websocket`);
  assert.equal(await client.echo('up'), 'v2:up');
  await client.close();
});

test('onServer with a Hono app (a fetch handler): requests go to fetch(), upgrades to the server\'s listener, as @hono/node-ws attaches', async (t) => {
  const { url } = await serveModule(t, wsEchoAppSource('v4', `import { Hono } from '${import.meta.resolve('hono')}';
const app = new Hono();
app.get('/', (c) => c.text('hono page'));
export default app;
export function onServer(server) { server.on('upgrade', accept); }
`));
  assert.equal((await httpGet(`${url}/`)).body, 'hono page');
  const client = await openWs(url);
  assert.equal(await client.echo('h'), 'v4:h');
  await client.close();
});

test('a Fastify app: its own server\'s upgrade listeners get the upgrades, its routes the requests', async (t) => {
  const { url } = await serveModule(t, wsEchoAppSource('v3', `import Fastify from '${import.meta.resolve('fastify')}';
const app = Fastify();
// As @fastify/websocket does: a plugin listens on the instance's server.
app.register(async (instance) => { instance.server.on('upgrade', accept); });
app.get('/route', async () => 'fastify route');
export default app;
`));
  assert.equal((await httpGet(`${url}/route`)).body, 'fastify route');
  const client = await openWs(url);
  assert.equal(await client.echo('f'), 'v3:f');
  await client.close();
});

test('trustProxy: the upgrade listener sees the forwarded client on the socket, as requests do', async (t) => {
  const source = `export default (req, res) => res.end('x');
export function upgrade(req, socket) {
  socket.end('HTTP/1.1 403 Forbidden\\r\\nContent-Length: ' + socket.remoteAddress.length + '\\r\\nConnection: close\\r\\n\\r\\n' + socket.remoteAddress);
}
`;
  const recorder = rowRecorder();
  const { url } = await serveModule(t, source, {}, recorder);
  const result = await connectWs(url, { 'X-Forwarded-For': '203.0.113.7' });
  assert.ok('status' in result);
  assert.equal(result.status, 403);
  assert.equal(result.body, '203.0.113.7');
  // The app's own refusal is its answer: the row carries its status.
  await waitUntil('the row of the refused upgrade', () => recorder.rows.some((row) => row.status === 403));
});

test('a drain: open WebSockets get a close frame (1001 when the server stops) at the deadline, counted', async (t) => {
  const { rt, url } = await serveModule(t, wsEchoAppSource('v1'));
  const client = await openWs(url);
  assert.equal(await client.echo('before'), 'v1:before');
  const started = performance.now();
  const closing = rt.server.close(300);
  // Until the deadline it still serves.
  assert.equal(await client.echo('during'), 'v1:during');
  const info = await client.closed;
  assert.equal(info.code, 1001);
  assert.ok(performance.now() - started >= 250, 'closed at the deadline, not before');
  await closing;
  assert.equal(rt.figures().get('ws_websockets_closed'), '1');
  assert.equal(rt.figures().get('ws_websockets'), '0');
});

test('upgradeDrainTimeout: shorter than the drain closes WebSockets sooner; longer holds them past it only when the worker is replaced (1012)', async (t) => {
  const early = await serveModule(t, wsEchoAppSource('v1'), { upgradeDrainTimeoutMs: 0 });
  const a = await openWs(early.url);
  const started = performance.now();
  const closing = early.rt.server.close(30_000);
  assert.equal((await a.closed).code, 1001);
  assert.ok(performance.now() - started < 10_000, 'closed at once, not at the 30 s drain deadline');
  await closing;

  const late = await serveModule(t, wsEchoAppSource('v1'), { upgradeDrainTimeoutMs: 5000 });
  const b = await openWs(late.url);
  const replaced = performance.now();
  const replacing = late.rt.server.close(200, CloseCode.SERVICE_RESTART);
  await waitUntil('the 200 ms drain deadline passed', () => performance.now() - replaced > 400);
  assert.equal(await b.echo('past the drain'), 'v1:past the drain');
  assert.equal((await b.closed).code, 1012);
  assert.ok(performance.now() - replaced >= 4900, 'held until upgradeDrainTimeout');
  await replacing;
});

test('an upgrade on a kept-alive connection after the drain closed the WebSockets is refused (503), never left open to hold the worker', async (t) => {
  const { rt, url } = await serveModule(t, wsEchoAppSource('v1'));
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.write('GET /plain HTTP/1.1\r\nHost: a\r\n\r\n');
  await waitUntil('the first answer', () => received.includes('v1 plain'));
  const closing = rt.server.close(5000);
  // No WebSocket open: the drain is past its upgrades within this turn; this one arrives after.
  socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  await waitUntil('the upgrade answered', () => /HTTP\/1\.1 (503|101)/.test(received.slice(received.indexOf('v1 plain'))));
  assert.match(received, /HTTP\/1\.1 503 Service Unavailable[\s\S]*the server is stopping/);
  await closing;
  assert.equal(rt.figures().get('ws_upgrades_refused'), '1');
  socket.destroy();
});

test('a client that resets a WebSocket whose app listens for no errors: the worker goes on serving', async (t) => {
  const { rt, url } = await serveModule(t, `export default (req, res) => res.end('alive');
export function upgrade(req, socket) {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  setInterval(() => socket.writable && socket.write(Buffer.from([0x89, 0])), 20).unref();
}
`);
  const client = await openWs(url);
  (client.socket as import('node:net').Socket).resetAndDestroy();
  await waitUntil('the session ended', () => rt.figures().get('ws_websockets') === '0');
  assert.equal((await httpGet(url)).body, 'alive');
});
