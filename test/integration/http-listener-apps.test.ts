/**
 * `protocol: 'http'` apps over real sockets, what an app and an operator see: a Unix-socket
 * listener with a fetch handler, the mount prefix and req.scgi, and the access log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { open } from '../helpers/http-listener.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { sleep, waitUntil } from '../helpers/wait.js';

test('a Unix-socket HTTP listener and a fetch handler: streamed bodies both ways, and the abort signal', async (t) => {
  const dir = await testDir(t, 'http-unix');
  let aborted = false;
  const rt = await startRuntime(t, [{
    name: 'fetchy', protocol: 'http', listen: `unix:${dir}/app.sock`,
    async fetch(request) {
      if (new URL(request.url).pathname === '/hold') {
        request.signal.addEventListener('abort', () => (aborted = true));
        return new Promise<Response>(() => {});
      }
      const text = await request.text();
      return new Response(`${request.method} ${new URL(request.url).pathname} ${text.length}`, { headers: { 'x-app': 'fetchy' } });
    },
  }]);
  const post = (body: string): Promise<string> => new Promise((resolve, reject) => {
    const socket = connect(`${dir}/app.sock`);
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.end(`POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  const answer = await post('x'.repeat(200_000));
  assert.match(answer, /^HTTP\/1.1 200 OK/);
  assert.match(answer, /x-app: fetchy/);
  assert.match(answer, /\r\nPOST \/echo 200000\r\n/);

  const held = connect(`${dir}/app.sock`);
  held.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
  await waitForFigure(rt.figures, 'fetchy_online', '1');
  held.destroy();
  await waitUntil('request.signal fired', () => aborted);
  await waitForFigure(rt.figures, 'fetchy_aborted', '1');
  await sleep(0);
});

test('the mount prefix is stripped as over SCGI, and req.scgi carries the app, the mount and a CGI-style env', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'shop', protocol: 'http', mount: '/shop',
    node(req, res) {
      const mounted = req as typeof req & { baseUrl?: string; originalUrl?: string };
      const scgi = req.scgi;
      res.end(JSON.stringify({ url: req.url, baseUrl: mounted.baseUrl, originalUrl: mounted.originalUrl, app: scgi?.app, mount: scgi?.mount, uri: scgi?.env.REQUEST_URI, query: scgi?.env.QUERY_STRING, agent: scgi?.env.HTTP_USER_AGENT, requests: scgi?.stats().requests }));
    },
  }]);
  const conn = await open(rt, 'shop');
  t.after(() => conn.destroy());
  conn.get('/shop/cart?x=1', { 'User-Agent': 'tester' });
  assert.deepEqual(JSON.parse((await conn.read()).body), {
    url: '/cart?x=1', baseUrl: '/shop', originalUrl: '/shop/cart?x=1', app: 'shop', mount: '/shop', uri: '/shop/cart?x=1', query: 'x=1', agent: 'tester', requests: 0,
  });
  conn.get('/elsewhere');
  assert.equal(JSON.parse((await conn.read()).body).url, '/elsewhere', 'outside the mount: served unstripped');
});

test('the access log over HTTP: one combined line per request with the forwarded client and the request line version', async (t) => {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const rt = await startRuntime(t, [{ name: 'blog', protocol: 'http', node: (_req, res) => res.end('hello') }], { accessLog: 'combined', logger: pino({ level: 'info' }, sink) });
  const conn = await open(rt, 'blog');
  t.after(() => conn.destroy());
  conn.get('/post/1?x=2', { 'X-Forwarded-For': '203.0.113.9', Referer: 'http://ref.example/', 'User-Agent': 'tester/1' });
  await conn.read();
  conn.get('/post/2');
  await conn.read();
  const lines = (): string[] => text.split('\n').filter((line) => line.includes('"GET /post/'));
  await waitUntil('two access lines', () => lines().length === 2);
  assert.match(lines()[0] as string, /^203\.0\.113\.9 - - \[[^\]]+\] "GET \/post\/1\?x=2 HTTP\/1\.1" 200 \d+ "http:\/\/ref\.example\/" "tester\/1"/);
  assert.match(lines()[1] as string, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/post\/2 HTTP\/1\.1" 200 \d+ /);
});
