/**
 * `protocol: 'http'` apps over real sockets: keep-alive, pipelining and HTTP/1.0 through node:http,
 * each request counted as SCGI ones are, one request at a time per connection, pipelined or not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { holdingApp } from '../helpers/gated-app.js';
import { open, rowRecorder } from '../helpers/http-listener.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitUntil } from '../helpers/wait.js';

test('keep-alive: requests on one connection are each a request in the stats and the store, with their own bytes', async (t) => {
  const sockets = new Set<Socket>();
  const recorder = rowRecorder();
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http',
    node(req, res) {
      sockets.add(req.socket);
      res.end(`hello ${req.url}`);
    },
  }], { recorder });
  const conn = await open(rt, 'web');
  t.after(() => conn.destroy());
  for (let i = 0; i < 5; i++) {
    conn.get(`/n${i}`);
    const response = await conn.read();
    assert.equal(response.status, 200);
    assert.equal(response.body, `hello /n${i}`);
    assert.equal(response.headers.connection, 'keep-alive');
  }
  assert.equal(sockets.size, 1, 'all five requests came on one connection');
  assert.equal(rt.figures().get('web_requests'), '5');
  assert.deepEqual(recorder.rows.map((row) => row.path), ['/n0', '/n1', '/n2', '/n3', '/n4']);
  const socket = [...sockets][0] as Socket;
  assert.equal(recorder.rows.reduce((sum, row) => sum + row.bytesIn, 0), socket.bytesRead, 'bytes in are split between the requests, not counted twice');
  assert.equal(recorder.rows.reduce((sum, row) => sum + row.bytesOut, 0), socket.bytesWritten);
  for (const row of recorder.rows) assert.ok(row.bytesIn > 0 && row.bytesOut > 0);
});

test('pipelined requests are answered in order, and an HTTP/1.0 client gets its answer and a close', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http',
    node(req, res) {
      // The second answers first inside the app: node:http still sends them in request order.
      setTimeout(() => res.end(`r ${req.url}`), req.url === '/1' ? 50 : 0);
    },
  }]);
  const conn = await open(rt, 'web');
  t.after(() => conn.destroy());
  conn.send('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.deepEqual([(await conn.read()).body, (await conn.read()).body, (await conn.read()).body], ['r /1', 'r /2', 'r /3']);

  const old = await open(rt, 'web');
  t.after(() => old.destroy());
  old.get('/old', {}, '1.0');
  const response = await old.read();
  assert.equal(response.status, 200);
  assert.equal(response.body, 'r /old');
  assert.ok(await old.waitClosed(5000), 'HTTP/1.0 without keep-alive: the server closes');
  assert.equal(rt.figures().get('web_requests'), '4');
});

test('pipelined requests on one connection run one at a time, and other connections are still admitted beside them', async (t) => {
  // node:http emits every pipelined request at once: 20 pipelined requests on one connection ran
  // 10 at once and queued the rest, taking every thread of the app.
  const app = holdingApp();
  const perSocket = new Map<Socket, { running: number; max: number }>();
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http', threads: 10, queue: 5,
    node(req, res) {
      const entry = perSocket.get(req.socket) ?? { running: 0, max: 0 };
      perSocket.set(req.socket, entry);
      entry.max = Math.max(entry.max, ++entry.running);
      res.once('finish', () => entry.running--);
      app.node(req, res);
    },
  }]);
  const piped = await open(rt, 'web');
  const other = await open(rt, 'web');
  t.after(() => [piped, other].forEach((c) => c.destroy()));
  piped.send(Array.from({ length: 20 }, (_, i) => `GET /p${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join(''));
  await waitUntil('the pipeline\'s first request runs', () => app.held >= 1);
  other.get('/other');
  await waitUntil('the other connection\'s request runs', () => perSocket.size === 2, { timeoutMs: 10_000 });
  assert.equal(app.held, 2, 'one request of the pipeline and the other connection\'s run');
  assert.equal(rt.figures().get('web_queued'), '0', 'nothing of the pipeline waits in the app\'s queue');
  const bodies: string[] = [];
  for (let i = 0; i < 20; i++) {
    await waitUntil(`pipelined request ${i} runs`, () => app.held > 0);
    app.release();
    const response = await piped.read();
    assert.equal(response.status, 200);
    bodies.push(response.body);
  }
  assert.deepEqual(bodies, Array.from({ length: 20 }, (_, i) => `done /p${i}`));
  assert.equal((await other.read()).body, 'done /other');
  assert.deepEqual([...perSocket.values()].map((e) => e.max), [1, 1], 'at most one request in flight per connection');
  assert.equal(rt.figures().get('web_requests'), '21');
});

test('a flood of pipelined requests on one connection does not fill the queue: none is refused', async (t) => {
  // 10,001 pipelined requests used to fill the app's queue (9,341 x 503), for every client.
  const COUNT = 2_000;
  const rt = await startRuntime(t, [{ name: 'web', protocol: 'http', threads: 2, queue: 2, node: (req, res) => setImmediate(() => res.end(`r ${req.url}`)) }]);
  const piped = await open(rt, 'web');
  t.after(() => piped.destroy());
  piped.send(Array.from({ length: COUNT }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join(''));
  const statuses = new Map<number, number>();
  for (let i = 0; i < COUNT; i++) {
    const response = await piped.read();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  assert.deepEqual([...statuses], [[200, COUNT]]);
  assert.equal(rt.figures().get('web_rejected'), '0');
});
