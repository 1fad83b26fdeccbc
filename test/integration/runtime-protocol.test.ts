/**
 * The runtime over real sockets: CGI responses, malformed input, limits and timeouts at the
 * protocol level. Apps are plain listeners and fetch handlers; frameworks are covered in e2e.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { encodeNetstringEnv, encodeScgiRequest, parseScgiResponse, scgiRequest, sendRaw } from '../helpers/scgi-client.js';
import { startRuntime } from '../helpers/runtime.js';
import { sleep, waitUntil } from '../helpers/wait.js';

test('a Node listener gets method, URL, headers, client address, HTTPS and the raw environment', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'echo',
    mount: '/a',
    node(req, res) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        ip: req.socket.remoteAddress,
        port: req.socket.remotePort,
        encrypted: (req.socket as { encrypted?: boolean }).encrypted ?? false,
        httpVersion: req.httpVersion,
        env: req.scgi?.env.REQUEST_URI,
        ownRequests: req.scgi?.stats().requests,
      }));
    },
  }]);
  const res = await scgiRequest(rt.targets.get('echo')!, {
    uri: '/a/x?y=%C3%BC', headers: { 'X-Custom': 'v', Accept: 'text/plain' }, env: { HTTPS: 'on', REMOTE_ADDR: '203.0.113.7', REMOTE_PORT: '4242' },
  });
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body.toString());
  assert.deepEqual(body, {
    method: 'GET', url: '/x?y=%C3%BC', headers: { 'x-custom': 'v', accept: 'text/plain', host: 'localhost' },
    ip: '203.0.113.7', port: 4242, encrypted: true, httpVersion: '1.1', env: '/a/x?y=%C3%BC', ownRequests: 0,
  });
});

test('responses are CGI style: Status line, CRLF, no chunked framing, body streamed, connection closed', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const rt = await startRuntime(t, [{
    name: 'stream',
    async node(_req, res) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first\n');
      await gate;
      res.end('second\n');
    },
  }]);
  const target = rt.targets.get('stream')! as { port: number };
  const socket = connect(target.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.write(encodeScgiRequest({ uri: '/' }));
  await waitUntil('the first answer', () => Buffer.concat(chunks).includes('first\n'));
  assert.ok(!Buffer.concat(chunks).includes('second'), 'the first chunk arrived before the app ended');
  release();
  await closed;
  const raw = Buffer.concat(chunks).toString('latin1');
  assert.equal(raw, 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst\nsecond\n');
  assert.doesNotMatch(raw, /HTTP\/1\.1|Transfer-Encoding|Connection:/);
});

test('HEAD, 204 and 304 have no body; several Set-Cookie headers survive', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'node',
    node(req, res) {
      const status = req.url === '/204' ? 204 : req.url === '/304' ? 304 : 200;
      res.statusCode = status;
      res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT']);
      res.end('body that must not be sent for HEAD/204/304');
    },
  }, {
    name: 'fetch',
    fetch(request) {
      const path = new URL(request.url).pathname;
      const headers = new Headers();
      headers.append('Set-Cookie', 'a=1; Path=/');
      headers.append('Set-Cookie', 'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT');
      if (path === '/204' || path === '/304') return new Response(null, { status: Number(path.slice(1)), headers });
      return new Response('body that must not be sent for HEAD', { headers });
    },
  }]);
  for (const app of ['node', 'fetch']) {
    const target = rt.targets.get(app)!;
    const get = await scgiRequest(target, { uri: '/' });
    assert.deepEqual(get.headers.get('set-cookie'), ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT'], app);
    assert.ok(get.body.length > 0);
    const head = await scgiRequest(target, { method: 'HEAD', uri: '/' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0, `${app} HEAD`);
    for (const status of [204, 304]) {
      const res = await scgiRequest(target, { uri: `/${status}` });
      assert.equal(res.status, status);
      assert.equal(res.body.length, 0, `${app} ${status}`);
    }
  }
});

test('Expect: 100-continue never produces an interim 100 line', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'app',
    node(req, res) {
      res.writeContinue();
      req.resume();
      req.on('end', () => res.end('done'));
    },
  }]);
  const res = await scgiRequest(rt.targets.get('app')!, { method: 'POST', headers: { Expect: '100-continue' }, body: 'x'.repeat(100) });
  assert.equal(res.status, 200);
  assert.doesNotMatch(res.raw.toString(), /100 Continue/);
});

test("with halfClose: 'answer', a client that half-closes after sending still gets its answer", async (t) => {
  const rt = await startRuntime(t, [{ name: 'app', halfClose: 'answer', node: (_req, res) => setTimeout(() => res.end('late answer'), 50) }]);
  const raw = await sendRaw(rt.targets.get('app')!, encodeScgiRequest({}), { halfClose: true });
  assert.equal(parseScgiResponse(raw).body.toString(), 'late answer');
});

test('garbage gets 400 with the reason, a log line naming the peer, and serving goes on', async (t) => {
  const rt = await startRuntime(t, [{ name: 'app', node: (_req, res) => res.end('ok') }]);
  const target = rt.targets.get('app')!;
  const inputs: Array<[Buffer, number, string]> = [
    // (An HTTP request line has its own code and an HTTP answer: http-on-scgi-port.test.ts.)
    [Buffer.from('garbage\r\n\r\n'), 400, 'DOW_ERR_NETSTRING_LENGTH'],
    [Buffer.from('70000:'), 431, 'DOW_ERR_HEADER_TOO_LARGE'],
    [encodeNetstringEnv({ SCGI: '1', CONTENT_LENGTH: '0' }), 400, 'DOW_ERR_CONTENT_LENGTH'],
    [encodeNetstringEnv({ CONTENT_LENGTH: '0' }), 400, 'DOW_ERR_SCGI_MISSING'],
    [encodeNetstringEnv({ CONTENT_LENGTH: '99999999', SCGI: '1' }), 413, 'DOW_ERR_BODY_TOO_LARGE'],
  ];
  for (const [input, status, code] of inputs) {
    const res = parseScgiResponse(await sendRaw(target, input));
    assert.equal(res.status, status, code);
    const line = rt.logs.find((entry) => entry.code === code);
    assert.ok(line, `a log line with ${code}`);
    assert.match(String(line.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(String(line.msg), /bad SCGI request from 127\.0\.0\.1:\d+: /);
  }
  assert.equal((await scgiRequest(target)).body.toString(), 'ok');
  assert.equal(rt.figures().get('app_bad_requests'), '5');
  assert.equal(rt.figures().get('app_requests'), '1', 'bad requests are not the app\'s requests');
});

test('a flood of malformed requests writes one log line a second per kind, with the count left out', async (t) => {
  const rt = await startRuntime(t, [{ name: 'app', node: (_req, res) => res.end('ok') }]);
  const target = rt.targets.get('app')!;
  const flood = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) assert.equal(parseScgiResponse(await sendRaw(target, Buffer.from('garbage\r\n\r\n'))).status, 400);
  };
  // 60 in well under a second, even under AddressSanitizer on a loaded machine (test:asan).
  await flood(60);
  const lines = (): Array<Record<string, unknown>> => rt.logs.filter((l) => l.code === 'DOW_ERR_NETSTRING_LENGTH');
  assert.equal(lines().length, 1);
  // Another kind is not hidden by the flood.
  await sendRaw(target, encodeNetstringEnv({ CONTENT_LENGTH: '0' }));
  assert.ok(rt.logs.some((l) => l.code === 'DOW_ERR_SCGI_MISSING'));
  // Time itself is the event here: the log throttle opens again once its 1 s window has passed.
  await sleep(1050);
  await flood(1);
  assert.equal(lines().length, 2);
  assert.match(String(lines()[1]?.msg), /\(59 more like it not logged\)$/);
  assert.equal(rt.figures().get('app_bad_requests'), '62', 'every one still counted');
});

test('a slow header block gets 408 after the header timeout (slowloris)', async (t) => {
  const rt = await startRuntime(t, [{ name: 'app', node: (_req, res) => res.end('ok') }], { limits: { headerTimeoutMs: 200 } });
  const started = Date.now();
  const raw = await sendRaw(rt.targets.get('app')!, Buffer.from('50:CONTENT_LEN'));
  assert.equal(parseScgiResponse(raw).status, 408);
  assert.ok(Date.now() - started >= 190);
  assert.ok(rt.logs.some((entry) => entry.code === 'DOW_ERR_HEADER_TIMEOUT'));
});

test('a body that stops arriving ends the request after the idle timeout', async (t) => {
  let appSawError = false;
  const rt = await startRuntime(t, [{
    name: 'app',
    node(req, res) {
      req.on('error', () => (appSawError = true));
      req.on('close', () => (appSawError = true));
      req.resume();
      req.on('end', () => res.end('complete'));
    },
  }], { limits: { bodyIdleTimeoutMs: 200 } });
  const partial = encodeScgiRequest({ method: 'POST', body: 'x'.repeat(1000) }).subarray(0, -500);
  const res = parseScgiResponse(await sendRaw(rt.targets.get('app')!, partial));
  assert.equal(res.status, 408);
  await waitUntil('the app saw the error', () => appSawError);
  assert.equal(rt.figures().get('app_timeouts'), '1');
});

test('the request body streams to the app with backpressure, never buffered whole', async (t) => {
  const size = 8 * 1024 * 1024;
  let readAtStart = -1;
  const rt = await startRuntime(t, [{
    name: 'slow',
    async fetch(request) {
      await sleep(300);
      // While the app has not read, the server must not have pulled the whole body off the socket.
      readAtStart = (await import('node:process')).memoryUsage().rss;
      let total = 0;
      const reader = request.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
      }
      return new Response(String(total));
    },
  }, {
    name: 'peek',
    node(req, res) {
      setTimeout(() => {
        const pulled = req.socket.bytesRead;
        req.resume();
        req.on('end', () => res.end(String(pulled)));
      }, 300);
    },
  }], { limits: { maxBodyBytes: 16 * 1024 * 1024 } });
  const body = Buffer.alloc(size, 7);
  const slow = await scgiRequest(rt.targets.get('slow')!, { method: 'POST', body });
  assert.equal(slow.body.toString(), String(size));
  assert.ok(readAtStart > 0);
  const peek = await scgiRequest(rt.targets.get('peek')!, { method: 'POST', body });
  assert.ok(Number(peek.body.toString()) < size / 2, `read ${peek.body.toString()} of ${size} bytes before the app asked`);
});

test('regression: a piped response larger than the socket buffer completes (drain reaches the response)', async (t) => {
  const { Readable, pipeline } = await import('node:stream');
  const rt = await startRuntime(t, [{
    name: 'big',
    node(_req, res) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      function* chunks() {
        for (let i = 0; i < 100; i++) yield Buffer.alloc(64 * 1024, i);
      }
      pipeline(Readable.from(chunks()), res, () => {});
    },
  }]);
  const res = await scgiRequest(rt.targets.get('big')!);
  assert.equal(res.body.length, 100 * 64 * 1024);
  assert.equal(res.body[res.body.length - 1], 99);
});

test('a fetch handler gets 400, not a 500 with a stack, for a header HTTP does not allow', async (t) => {
  let called = 0;
  const rt = await startRuntime(t, [{ name: 'hono', fetch: () => (called++, new Response('ok')) }]);
  const target = rt.targets.get('hono')!;
  const bad: Array<Record<string, string>> = [{ 'HTTP_X(BAD': 'v' }, { HTTP_X_SPLIT: 'a\r\nInjected: yes' }];
  for (const env of bad) {
    const res = parseScgiResponse(await sendRaw(target, encodeScgiRequest({ env })));
    assert.equal(res.status, 400, JSON.stringify(env));
    assert.match(res.body.toString(), /^the request is not valid HTTP: /);
    assert.doesNotMatch(res.body.toString(), /\n\s+at /, 'no stack');
  }
  assert.equal(called, 0);
  assert.ok(rt.logs.some((l) => l.code === 'DOW_ERR_REQUEST_INVALID' && /bad request from 127\.0\.0\.1/.test(String(l.msg))));
  assert.equal(rt.logs.filter((l) => l.code === 'DOW_ERR_APP_THREW').length, 0);
  assert.equal((await scgiRequest(target)).body.toString(), 'ok');
});
