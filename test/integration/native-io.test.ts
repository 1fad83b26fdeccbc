/**
 * The native I/O core (native/src/) against node:net, over real sockets: the same bytes in
 * give the same bytes out on both paths, backpressure holds both ways, no connection is left
 * behind in C, and the choice of path ('auto', 'native', 'node', DOW_IO) behaves as documented.
 * The rest of the suite runs on the native core too (io 'auto'), and once more on node:net and
 * under AddressSanitizer in `npm run test:asan`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadNative } from '../../server/native/native-binding.js';
import { startRuntime, type TestApp } from '../helpers/runtime.js';
import { encodeNetstringEnv, encodeScgiRequest, parseScgiResponse, sendRaw, type Target } from '../helpers/scgi-client.js';
import { waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const native = loadNative();
const skip = native.binding === null && !process.env.CI ? `no native core: ${native.binding === null ? native.reason : ''}` : false;

test('the native core is built and loads (required in CI on Linux)', { skip: process.platform !== 'linux' }, () => {
  assert.ok(native.binding !== null, native.binding === null ? native.reason : '');
});

/** Both paths side by side: every app of `apps` once with io 'native', once with io 'node'. */
async function bothPaths(t: Parameters<typeof startRuntime>[0], app: TestApp) {
  const rt = await startRuntime(t, [{ ...app, name: 'viaNative', io: 'native' }, { ...app, name: 'viaNode', io: 'node' }]);
  return { rt, native: rt.targets.get('viaNative') as Target, node: rt.targets.get('viaNode') as Target };
}

function echoApp(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256');
  let length = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
  });
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.method} ${req.url} ${length} ${hash.digest('hex').slice(0, 16)} ${req.headers['x-thing'] ?? '-'} ${req.socket.remoteAddress}\n`);
  });
}

test('the same bytes in give the same bytes out on both paths: valid, split, malformed and oversized heads', { skip }, async (t) => {
  const { rt, native: viaNative, node: viaNode } = await bothPaths(t, { node: echoApp });
  const request = encodeScgiRequest({ method: 'POST', uri: '/a?b=c', body: 'x'.repeat(1000), headers: { 'x-thing': 'one' } });
  const cases: Array<[string, Buffer[]]> = [
    ['whole', [request]],
    ['byte by byte through the length prefix', [request.subarray(0, 1), request.subarray(1, 2), request.subarray(2, 3), request.subarray(3)]],
    ['split inside the block and the body', [request.subarray(0, 40), request.subarray(40, 200), request.subarray(200, 1100), request.subarray(1100)]],
    ['repeated HTTP_ headers joined', [encodeNetstringEnv({ CONTENT_LENGTH: '0', SCGI: '1', REQUEST_METHOD: 'GET', REQUEST_URI: '/r', HTTP_X_THING: 'a', HTTP_X_THING_: 'z', HTTP_X_THING__: 'y' })]],
    ['an HTTP request on the SCGI port', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['a leading zero', [Buffer.from('070:')]],
    ['no comma', [Buffer.concat([encodeNetstringEnv({ CONTENT_LENGTH: '0', SCGI: '1' }).subarray(0, -1), Buffer.from(';')])]],
    ['CONTENT_LENGTH not first', [encodeNetstringEnv({ SCGI: '1', CONTENT_LENGTH: '0' })]],
    ['SCGI missing', [encodeNetstringEnv({ CONTENT_LENGTH: '0', REQUEST_METHOD: 'GET' })]],
    ['a repeated CGI variable', [encodeNetstringEnv({ CONTENT_LENGTH: '0', SCGI: '1', REQUEST_METHOD: 'GET' }), Buffer.from('')]],
    ['a body over maxBodyBytes', [encodeNetstringEnv({ CONTENT_LENGTH: '99999999999', SCGI: '1' })]],
    ['a header block over maxHeaderBytes', [Buffer.from('9999999:')]],
    ['a bad CONTENT_LENGTH', [encodeNetstringEnv({ CONTENT_LENGTH: '12a', SCGI: '1' })]],
    ['the bad byte in a later read', [Buffer.from('1'), Buffer.from('0x')]],
  ];
  // The duplicate CGI variable, written by hand (an object cannot hold one name twice).
  const duplicated = Buffer.from('CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_METHOD\x00PUT\x00', 'latin1');
  cases[9] = ['a repeated CGI variable', [Buffer.concat([Buffer.from(`${duplicated.length}:`), duplicated, Buffer.from(',')])]];
  for (const [name, parts] of cases) {
    const [fromNative, fromNode] = await Promise.all([viaNative, viaNode].map(async (target) => {
      const socket = await openRaw(target);
      for (const part of parts) {
        socket.write(part);
        await sleep(5);
      }
      return socket.result;
    }));
    assert.equal(fromNative?.toString('latin1'), fromNode?.toString('latin1'), name);
    assert.ok(fromNative !== undefined && fromNative.length > 0, `${name}: an answer`);
  }
  const figures = rt.figures();
  for (const key of ['requests', 'bad_requests', 'answered', 'aborted']) {
    assert.equal(figures.get(`viaNative_${key}`), figures.get(`viaNode_${key}`), key);
  }
  await waitUntil('every native connection closed', () => native.binding?.counts().connections === 0);
});

/** A raw connection whose `result` is everything received until the server closed. */
async function openRaw(target: Target): Promise<{ write(data: Buffer): void; result: Promise<Buffer> }> {
  const socket = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const result = new Promise<Buffer>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
  return { write: (data) => socket.write(data), result };
}

test('a large response to a client that stops reading waits in the kernel, not in memory, and arrives whole', { skip }, async (t) => {
  const size = 16 * 1024 * 1024;
  let drained = 0;
  let falseWrites = 0;
  const rt = await startRuntime(t, [{
    name: 'big',
    io: 'native',
    node(_req, res) {
      const chunk = Buffer.alloc(64 * 1024, 'z');
      let sent = 0;
      res.on('drain', () => drained++);
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            falseWrites++;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    },
  }]);
  const target = rt.targets.get('big') as { port: number };
  const socket = connect(target.port, '127.0.0.1');
  socket.write(encodeScgiRequest({ uri: '/big' }));
  socket.pause();
  // The app is held by backpressure: far less than the response is in our process.
  await waitUntil('res.write() returned false', () => falseWrites >= 1);
  // What the kernel did not take waits in the addon's queue: one write's worth, not the response.
  const queued = native.binding?.counts().queuedBytes ?? 0;
  assert.ok(queued <= 256 * 1024, `${queued} bytes queued in C`);
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  socket.resume();
  await new Promise((resolve) => socket.on('close', resolve));
  assert.ok(received > size, `${received} bytes received`);
  assert.ok(drained >= 1, "'drain' reached the response");
  await waitUntil('every native connection closed', () => native.binding?.counts().connections === 0);
});

test("a write that fails in the addon's queue is reported as a write error, a failed read as a read error", { skip }, async (t) => {
  const errors: NodeJS.ErrnoException[] = [];
  const rt = await startRuntime(t, [{
    name: 'big',
    io: 'native',
    halfClose: 'answer',
    node(req, res) {
      res.socket?.on('error', (err) => errors.push(err));
      const chunk = Buffer.alloc(64 * 1024, 'z');
      // Until the kernel's buffers are full and the rest waits in the addon's queue.
      const pump = (): void => {
        while (res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      if (req.url === '/write') pump();
    },
  }]);
  const target = rt.targets.get('big') as { port: number };

  // The front end half-closes (nothing more to read), stops reading, then resets: the queued
  // bytes' next send fails.
  const writer = connect(target.port, '127.0.0.1');
  writer.on('error', () => {});
  writer.end(encodeScgiRequest({ uri: '/write' }));
  writer.pause();
  await waitUntil('bytes queued in the native core', () => (native.binding?.counts().queuedBytes ?? 0) > 0);
  writer.resetAndDestroy();
  await waitUntil('the first error', () => errors.length === 1);
  assert.equal(errors[0]?.syscall, 'write', String(errors[0]));
  assert.ok(['EPIPE', 'ECONNRESET'].includes(errors[0]?.code ?? ''), String(errors[0]));

  // Reset while the app holds the request and the addon reads for the end of it.
  const reader = connect(target.port, '127.0.0.1');
  reader.on('error', () => {});
  reader.write(encodeScgiRequest({ uri: '/hold' }));
  await waitForFigure(rt.figures, 'big_online', '1');
  reader.resetAndDestroy();
  await waitUntil('the second error', () => errors.length === 2);
  assert.equal(errors[1]?.syscall, 'read', String(errors[1]));
  assert.equal(errors[1]?.code, 'ECONNRESET');
  await waitUntil('every native connection closed', () => native.binding?.counts().connections === 0);
});

test('a large request body is streamed to a slow app with pause and resume, intact', { skip }, async (t) => {
  const body = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
  const { native: viaNative } = await bothPaths(t, {
    node(req, res) {
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        length += chunk.length;
        // A slow consumer: the socket must stop being read meanwhile.
        req.pause();
        setTimeout(() => req.resume(), 1);
      });
      req.on('end', () => res.end(`${length} ${hash.digest('hex')}`));
    },
  });
  const response = parseScgiResponse(await sendRaw(viaNative, encodeScgiRequest({ method: 'PUT', body }), { timeoutMs: 60_000 }));
  assert.equal(response.body.toString(), `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
});

test('over a Unix socket; the peer is the front end\'s REMOTE_ADDR, or none', { skip }, async (t) => {
  const dir = await testDir(t, 'native-unix');
  const rt = await startRuntime(t, [{ name: 'sock', io: 'native', listen: `unix:${join(dir, 'app.sock')}`, node: echoApp }]);
  const target = rt.targets.get('sock') as Target;
  const withAddress = parseScgiResponse(await sendRaw(target, encodeScgiRequest({ uri: '/u', env: { REMOTE_ADDR: '203.0.113.7' } })));
  assert.match(withAddress.body.toString(), /^GET \/u 0 \S+ - 203\.0\.113\.7\n$/);
  const without = parseScgiResponse(await sendRaw(target, encodeNetstringEnv({ CONTENT_LENGTH: '0', SCGI: '1', REQUEST_METHOD: 'GET', REQUEST_URI: '/n' })));
  assert.match(without.body.toString(), /^GET \/n 0 \S+ - undefined\n$/);
});

test('a client that leaves while its request is queued frees the queue; counts return to zero', { skip }, async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const rt = await startRuntime(t, [{
    name: 'one',
    io: 'native',
    threads: 1,
    queue: 5,
    async node(_req, res) {
      await held;
      res.end('done');
    },
  }]);
  const target = rt.targets.get('one') as { port: number };
  const first = sendRaw(target, encodeScgiRequest({ uri: '/first' }));
  await waitForFigure(rt.figures, 'one_online', '1');
  const leaver = connect(target.port, '127.0.0.1');
  leaver.write(encodeScgiRequest({ uri: '/leaves' }));
  await waitForFigure(rt.figures, 'one_queued', '1');
  leaver.destroy();
  await waitForFigure(rt.figures, 'one_queued', '0');
  release();
  assert.equal(parseScgiResponse(await first).body.toString(), 'done');
  assert.equal(rt.figures().get('one_aborted'), '1');
  await waitUntil('every native connection closed', () => native.binding?.counts().connections === 0);
});

test("io 'node' keeps node:net; a config with io 'native' where the core cannot load is refused; 'auto' falls back with the reason logged", { skip: process.platform !== 'linux' }, async (t) => {
  const rt = await startRuntime(t, [{ name: 'plain', io: 'node', node: echoApp }]);
  assert.ok(!rt.logs.some((line) => String(line.msg).includes('native I/O')));
  const response = parseScgiResponse(await sendRaw(rt.targets.get('plain') as Target, encodeScgiRequest({ uri: '/p' })));
  assert.equal(response.status, 200);

  // A process where the addon is missing: DOW_NATIVE_ADDON names a file that does not exist.
  const script = `
    import { Server } from './server/listen/server.js';
    import { pino } from 'pino';
    const lines = [];
    const log = pino({ level: 'info' }, { write: (line) => lines.push(JSON.parse(line).msg) });
    const app = (io) => ({ listen: '127.0.0.1:0', processor: { app: { name: 'a', io, threads: 1, queue: 0, queueTimeoutMs: 0, requestTimeoutMs: 0, mount: '', handler: { type: 'node', listener: (q, s) => s.end() } } } });
    const auto = new Server({ listeners: [app('auto')], logger: log });
    await auto.listen();
    await auto.close(0);
    let refused = '';
    try { await new Server({ listeners: [app('native')], logger: log }).listen(); } catch (err) { refused = err.code + ': ' + err.message; }
    console.log(JSON.stringify({ lines, refused }));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, DOW_NATIVE_ADDON: '/nonexistent/dow_native.node', DOW_IO: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const { lines, refused } = JSON.parse(child.stdout.trim().split('\n').pop() as string) as { lines: string[]; refused: string };
  assert.ok(lines.some((line) => /io 'auto' serves SCGI through node:net: the native I\/O core was not built/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => /^UP on 127\.0\.0\.1:\d+ \(a\)$/.test(line)), lines.join('\n'));
  assert.match(refused, /^DOW_ERR_CONFIG: config apps: a: io: 'native' cannot be served: the native I\/O core was not built/);
});
