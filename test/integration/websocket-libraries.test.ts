/**
 * The recipes of docs/websockets.md with the real libraries (ws, socket.io and its client,
 * @fastify/websocket, @hono/node-ws), each a fixture module written as the doc shows it (the doc's
 * code blocks are checked against the fixtures), served by real worker processes of a supervisor
 * on a `protocol: 'http'` listener: messages both ways, a plain request answered beside the open
 * socket with one thread, and `<app>_websockets` on the stats port up while open, down at close.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Socket as IoClient } from 'socket.io-client';
import { poolApp, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { httpGet } from '../helpers/http-get.js';
import { readFigures, waitForFigure } from '../helpers/stats.js';
import { waitUntil } from '../helpers/wait.js';
import { chat, checkWsEcho, ioConnect, plainAnswered, websocketFixture, type ServedFixture } from '../helpers/ws-libraries.js';

const ROOT = new URL('../../', import.meta.url);
/** A doc block that is a fixture: ```js file=websockets/<name> */
const FIXTURE_FENCE = /^```js file=websockets\/([\w.-]+)\n([\s\S]*?)^```\s*$/gm;

interface Served extends ServedFixture {
  rt: RunningSupervisor;
}

async function serveFixture(t: TestContext, name: string, options: { workers?: number; queueTimeoutMs?: number } = {}): Promise<Served> {
  const workers = options.workers ?? 1;
  // One thread per worker: a plain request answered beside open sockets shows they hold none.
  const app = poolApp({ name: 'app', module: websocketFixture(name), threads: workers, count: workers, queueTimeoutMs: options.queueTimeoutMs ?? 10_000 });
  app.options.protocol = 'http';
  const rt = await startSupervisor(t, [app]);
  const { port } = rt.targets.get('app') as { port: number };
  return { rt, url: `http://127.0.0.1:${port}`, statsPort: (rt.stats as { port: number }).port, app: 'app' };
}

/** One POST on a connection of its own. */
function postOnce(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'text/plain' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A message that never comes back fails the suite rather than hanging it.
describe('docs/websockets.md recipes with the real libraries, in worker processes', { timeout: 600_000 }, () => {
  it('the doc\'s code blocks are the fixtures', async () => {
    const doc = await readFile(new URL('docs/websockets.md', ROOT), 'utf8');
    const blocks = [...doc.matchAll(FIXTURE_FENCE)];
    assert.deepEqual(blocks.map((m) => m[1]).sort(), ['fastify-websocket.mjs', 'hono-node-ws.mjs', 'socket-io.mjs', 'ws-noserver.mjs', 'ws-server.mjs']);
    for (const [, name = '', text] of blocks) assert.equal(text, await readFile(websocketFixture(name), 'utf8'), name);
  });

  it('ws in noServer mode through the upgrade export (Express beside it)', async (t) => {
    await checkWsEcho(await serveFixture(t, 'ws-noserver.mjs'), '/chat');
  });

  it('ws with { server } through onServer', async (t) => {
    await checkWsEcho(await serveFixture(t, 'ws-server.mjs'), '/');
  });

  it('@fastify/websocket on a Fastify app, with nothing added', async (t) => {
    await checkWsEcho(await serveFixture(t, 'fastify-websocket.mjs'), '/ws');
  });

  it('@hono/node-ws with injectWebSocket through onServer', async (t) => {
    await checkWsEcho(await serveFixture(t, 'hono-node-ws.mjs'), '/ws');
  });

  it('socket.io through onServer (Express beside it), the client on WebSocket only', async (t) => {
    const served = await serveFixture(t, 'socket-io.mjs');
    const socket = await ioConnect(served.url, { transports: ['websocket'] });
    t.after(() => socket.disconnect());
    await waitForFigure(served.statsPort, 'app_websockets', '1');
    await chat(socket, 'hi');
    await plainAnswered(served.url);
    socket.disconnect();
    await waitForFigure(served.statsPort, 'app_websockets', '0');
  });

  it('socket.io with one worker: the default long-polling start, then the upgrade', async (t) => {
    const served = await serveFixture(t, 'socket-io.mjs');
    const socket = await ioConnect(served.url, {});
    t.after(() => socket.disconnect());
    await chat(socket, 'over polling or not');
    await waitUntil('the upgrade to WebSocket', () => socket.io.engine.transport.name === 'websocket');
    const figures = await waitForFigure(served.statsPort, 'app_websockets', '1');
    // The polling went through the app's thread limit as requests.
    assert.ok(Number(figures.get('app_requests')) >= 2, figures.get('app_requests'));
    await chat(socket, 'upgraded');
    // The session's pending poll ended at the upgrade: the one thread is free.
    await plainAnswered(served.url);
    socket.disconnect();
    await waitForFigure(served.statsPort, 'app_websockets', '0');
  });

  it('socket.io polling holds a thread: with threads 1, a polling-only client\'s pending poll keeps a plain request queued until queueTimeout (503)', async (t) => {
    const served = await serveFixture(t, 'socket-io.mjs', { queueTimeoutMs: 2000 });
    const socket = await ioConnect(served.url, { transports: ['polling'] });
    t.after(() => socket.disconnect());
    await waitForFigure(served.statsPort, 'app_online', '1');
    // socket.io answers the poll at its next ping (pingInterval, 25 s): past the queue's timeout.
    const reply = await httpGet(`${served.url}/`);
    assert.equal(reply.status, 503);
    assert.match(reply.body, /too many requests/);
    assert.equal((await readFigures(served.statsPort)).get('app_websockets'), '0');
  });

  it('socket.io with two workers: WebSocket-only clients work on either worker', async (t) => {
    const served = await serveFixture(t, 'socket-io.mjs', { workers: 2 });
    const sockets: IoClient[] = [];
    t.after(() => sockets.forEach((s) => s.disconnect()));
    for (let i = 0; i < 6; i++) sockets.push(await ioConnect(served.url, { transports: ['websocket'] }));
    await waitForFigure(served.statsPort, 'app_websockets', '6');
    // io.emit reaches the sockets of the worker that got the message (no adapter between workers).
    for (const [i, socket] of sockets.entries()) await chat(socket, `from ${i}`);
    await plainAnswered(served.url);
    for (const socket of sockets) socket.disconnect();
    await waitForFigure(served.statsPort, 'app_websockets', '0');
  });

  it('socket.io with two workers: a session\'s polling requests on other connections reach a worker that does not know it (400)', async (t) => {
    const served = await serveFixture(t, 'socket-io.mjs', { workers: 2 });
    const handshake = await httpGet(`${served.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(handshake.status, 200);
    const { sid } = JSON.parse(handshake.body.slice(1)) as { sid: string };
    // Each request on a new connection, which the kernel gives to either worker. A POST (a noop
    // packet) is answered at once by both: the worker holding the session says ok.
    const unknown = await waitUntil('a request answered by the other worker', async () => {
      const reply = await postOnce(`${served.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, '6');
      return reply.status === 400 ? reply : undefined;
    });
    assert.match(unknown.body, /Session ID unknown/);
  });
});
