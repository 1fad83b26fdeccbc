/**
 * `protocol: 'http'` apps over real sockets, with the same thread limit, queue, 503, 504, 499,
 * size limits, header and body deadlines and counters as SCGI apps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdingApp } from '../helpers/gated-app.js';
import { RawHttpConnection } from '../helpers/http-client.js';
import { open, portOf, rowRecorder } from '../helpers/http-listener.js';
import { startRuntime } from '../helpers/runtime.js';
import { encodeScgiRequest } from '../helpers/scgi-client.js';
import { waitForFigure } from '../helpers/stats.js';
import { waitUntil } from '../helpers/wait.js';

test('over the limit requests queue, then get 503 with Retry-After on a connection that stays usable', async (t) => {
  const app = holdingApp();
  const rt = await startRuntime(t, [{ name: 'web', protocol: 'http', threads: 2, queue: 1, node: app.node }]);
  const conns = await Promise.all(Array.from({ length: 5 }, () => open(rt, 'web')));
  t.after(() => conns.forEach((c) => c.destroy()));
  conns.forEach((c, i) => c.get(`/${i}`));
  await waitUntil('2 held in the app, 1 queued', () => app.held === 2 && rt.figures().get('web_queued') === '1');
  const refused = await Promise.all(conns.slice(3).map((c) => c.read()));
  for (const response of refused) {
    assert.equal(response.status, 503);
    assert.equal(response.headers['retry-after'], '1');
    assert.match(response.body, /too many requests/);
  }
  app.release();
  await waitUntil('1 held in the app', () => app.held === 1);
  app.release();
  const served = await Promise.all(conns.slice(0, 3).map((c) => c.read()));
  assert.deepEqual(served.map((r) => r.status), [200, 200, 200]);
  assert.equal(app.maxRunning, 2);
  // The refused client's connection is still good for its next request.
  const again = conns[3] as RawHttpConnection;
  again.get('/again');
  await waitUntil('1 held in the app', () => app.held === 1);
  app.release();
  assert.equal((await again.read()).body, 'done /again');
  const figures = rt.figures();
  assert.equal(figures.get('web_rejected'), '2');
  assert.equal(figures.get('web_requests'), '6');
});

test('an app past its requestTimeout gets a 504 and a closed connection; its late writes are dropped, not thrown', async (t) => {
  let late: (() => void) | null = null;
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http', requestTimeoutMs: 200,
    node(req, res) {
      if (req.url === '/stream') {
        res.write('part one ');
        return;
      }
      late = () => {
        res.setHeader('x-late', '1');
        res.end('too late');
      };
    },
  }]);
  const conn = await open(rt, 'web');
  t.after(() => conn.destroy());
  conn.get('/slow');
  const response = await conn.read(5000);
  assert.equal(response.status, 504);
  assert.equal(response.headers.connection, 'close');
  assert.ok(await conn.waitClosed(5000));
  assert.doesNotThrow(() => late?.());

  const streaming = await open(rt, 'web');
  t.after(() => streaming.destroy());
  streaming.get('/stream');
  await assert.rejects(streaming.read(5000), /connection closed with \d+ unparsed bytes: HTTP\/1.1 200 OK.*part one /s, 'a response already started is cut: no final chunk');
  await waitForFigure(rt.figures, 'web_timeouts', '2');
});

test('a client that leaves mid-request is counted as aborted (499), the app sees close, and its slot is freed', async (t) => {
  let closedSeen = false;
  const recorder = rowRecorder();
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http', threads: 1,
    node(req, res) {
      if (req.url === '/hold') {
        res.on('close', () => (closedSeen = true));
        return;
      }
      res.end('next');
    },
  }], { recorder });
  const conn = await open(rt, 'web');
  conn.get('/hold');
  await waitForFigure(rt.figures, 'web_online', '1');
  conn.destroy();
  await waitUntil('the close seen and counted as aborted', () => closedSeen && rt.figures().get('web_aborted') === '1');
  assert.equal(recorder.rows[0]?.status, 499);
  const next = await open(rt, 'web');
  t.after(() => next.destroy());
  next.get('/next');
  assert.equal((await next.read()).body, 'next');
});

test('oversized headers get 431, an oversized body 413, an SCGI request a 400 that says so; each is logged and counted', async (t) => {
  const rt = await startRuntime(t, [{ name: 'web', protocol: 'http', node: (_req, res) => res.end('ok') }], {
    limits: { maxHeaderBytes: 1024, maxBodyBytes: 100 },
  });
  const big = await open(rt, 'web');
  t.after(() => big.destroy());
  big.get('/', { 'x-big': 'a'.repeat(2000) });
  assert.equal((await big.read()).status, 431);

  const body = await open(rt, 'web');
  t.after(() => body.destroy());
  body.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n');
  const tooLarge = await body.read();
  assert.equal(tooLarge.status, 413);
  assert.match(tooLarge.body, /body of 1000 bytes exceeds the limit of 100/);

  const scgi = await open(rt, 'web');
  t.after(() => scgi.destroy());
  scgi.socket.write(encodeScgiRequest({ uri: '/' }));
  const wrongProtocol = await scgi.read();
  assert.equal(wrongProtocol.status, 400);
  assert.match(wrongProtocol.body, /SCGI request arrived on an HTTP port/);

  assert.equal(rt.figures().get('web_requests'), '0');
  await waitForFigure(rt.figures, 'web_bad_requests', '3');
  const codes = rt.logs.map((line) => line.code);
  assert.ok(codes.includes('HPE_HEADER_OVERFLOW') && codes.includes('DOW_ERR_BODY_TOO_LARGE'), JSON.stringify(codes));
});

test('a malformed request after one that presented a forwarded client is logged with the real peer (the front end)', async (t) => {
  const rt = await startRuntime(t, [{ name: 'web', protocol: 'http', node: (req, res) => res.end(String(req.socket.remoteAddress)) }]);
  const conn = await open(rt, 'web');
  t.after(() => conn.destroy());
  conn.get('/', { 'x-forwarded-for': '203.0.113.9' });
  assert.equal((await conn.read()).body, '203.0.113.9', 'loopback is trusted by default: the client is presented');
  conn.send('GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n');
  assert.equal((await conn.read()).status, 400);
  await waitUntil('HPE_INVALID_HEADER_TOKEN logged', () => rt.logs.some((entry) => entry.code === 'HPE_INVALID_HEADER_TOKEN'));
  const line = rt.logs.find((entry) => entry.code === 'HPE_INVALID_HEADER_TOKEN') as Record<string, unknown>;
  assert.equal(line.peer, `127.0.0.1:${conn.socket.localPort}`);
  assert.match(String(line.msg), new RegExp(`^bad HTTP request from 127\\.0\\.0\\.1:${conn.socket.localPort}: `));
});

test('slowloris: a head trickled slower than headerTimeout is cut with 408 while others are served', async (t) => {
  const rt = await startRuntime(t, [{ name: 'web', protocol: 'http', node: (_req, res) => res.end('ok') }], {
    limits: { headerTimeoutMs: 400 },
  });
  const slow = Array.from({ length: 20 }, () => new RawHttpConnection(portOf(rt, 'web')));
  t.after(() => slow.forEach((c) => c.destroy()));
  await Promise.all(slow.map((c) => c.opened));
  const started = Date.now();
  const trickle = setInterval(() => slow.forEach((c) => !c.closed && c.send('X')), 100);
  t.after(() => clearInterval(trickle));
  slow.forEach((c) => c.send('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: '));
  const ok = await open(rt, 'web');
  t.after(() => ok.destroy());
  ok.get('/');
  assert.equal((await ok.read()).status, 200, 'a normal client is served meanwhile');
  const answers = await Promise.all(slow.map((c) => c.read(5000)));
  assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([408]));
  assert.ok(Date.now() - started < 3000, `cut after ${Date.now() - started} ms (headerTimeout 400 ms)`);
  assert.ok((await Promise.all(slow.map((c) => c.waitClosed(2000)))).every(Boolean));
});

test('a body that stops arriving gets 408 after bodyIdleTimeout, and an app that throws a 500 without taking the connection down', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'web', protocol: 'http',
    node(req, res) {
      if (req.url === '/throw') throw new Error('boom');
      req.on('data', () => {});
      req.on('end', () => res.end('read it'));
    },
  }], { limits: { bodyIdleTimeoutMs: 300 } });
  const conn = await open(rt, 'web');
  t.after(() => conn.destroy());
  conn.send('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345');
  const stalled = await conn.read(5000);
  assert.equal(stalled.status, 408);

  const thrower = await open(rt, 'web');
  t.after(() => thrower.destroy());
  thrower.get('/throw');
  const failed = await thrower.read();
  assert.equal(failed.status, 500);
  assert.equal(failed.body, 'Internal Server Error\n');
  const figures = rt.figures();
  assert.equal(figures.get('web_timeouts'), '1');
  assert.equal(figures.get('web_errors'), '1');
  assert.ok(rt.logs.some((line) => line.code === 'DOW_ERR_APP_THREW'));
});
