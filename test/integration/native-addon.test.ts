/**
 * The addon's own glue (native/src/addon*.c: Node-API calls, listeners, the write queue's
 * references, a worker thread's end) over real sockets, through a build of the real addon with
 * injectFault(), which makes one chosen Node-API call fail (`build-native.mjs --fault`, with
 * --asan too under test:asan).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { settingsFromConfig } from '../../server/config/config.js';
import { loadNative, type NativeBinding } from '../../server/native/native-binding.js';
import { NativeListener } from '../../server/native/native-listener.js';
import { DEFAULT_LIMITS, MAX_LIMITS } from '../../server/protocol/limits.js';
import { bindListeningSocket } from '../../server/supervisor/listen-handle.js';
import { startRuntime } from '../helpers/runtime.js';
import { encodeScgiRequest, parseScgiResponse, sendRaw, type Target } from '../helpers/scgi-client.js';
import { makeTempDirSync, removeTempDirSync, testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const FIXTURES = join(ROOT, 'test', 'fixtures');

/** The fault-injecting build, made once for this file; null (with why) where none can be built. */
function buildFaultAddon(): { path: string } | { path: null; reason: string } {
  if (process.platform !== 'linux') return { path: null, reason: 'the native core is Linux-only' };
  const dir = makeTempDirSync('fault-addon');
  after(() => removeTempDirSync(dir));
  const flags = process.env.DOW_TEST_SANITIZED ? ['--asan', '--fault'] : ['--fault'];
  const built = spawnSync('npm', ['run', '--silent', 'build:native', '--', ...flags, dir], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) return { path: null, reason: `${built.stdout}${built.stderr}` };
  return { path: join(dir, 'build', 'Release', 'dow_native.node') };
}

const fault = buildFaultAddon();
if (fault.path !== null) process.env.DOW_NATIVE_ADDON = fault.path;
const load = loadNative();
const binding = load.binding as NativeBinding;
const skip = load.binding === null && !process.env.CI ? `no native core: ${load.binding === null ? load.reason : ''}` : false;

function echoApp(req: IncomingMessage, res: ServerResponse): void {
  let length = 0;
  req.on('data', (chunk: Buffer) => (length += chunk.length));
  req.on('end', () => res.end(`${req.method} ${req.url} ${length}\n`));
}

/** A connection that sends `first`, and the rest when told; resolves with all it received. */
function stagedClient(target: Target, first: Buffer): { socket: Socket; received: Promise<{ bytes: Buffer; reset: boolean }> } {
  const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.write(first);
  const received = new Promise<{ bytes: Buffer; reset: boolean }>((resolve) => {
    let reset = false;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => (reset = err.code === 'ECONNRESET'));
    socket.on('close', () => resolve({ bytes: Buffer.concat(chunks), reset }));
  });
  return { socket, received };
}

test('the fault-injecting build of the addon is made (required in CI)', { skip: process.platform !== 'linux' }, () => {
  assert.equal(fault.path !== null ? null : fault.reason, null);
  assert.equal(typeof binding.injectFault, 'function');
});

test('a Node-API call that fails while an event is built ends that connection, never the process; the next request is served', { skip }, async (t) => {
  const rt = await startRuntime(t, [{ name: 'echo', io: 'native', node: echoApp }]);
  const target = rt.targets.get('echo') as Target;
  const inject = binding.injectFault?.bind(binding);
  if (!inject) return t.skip('not the fault-injecting build');
  const request = encodeScgiRequest({ method: 'POST', uri: '/a', body: 'x'.repeat(10) });
  const head = request.subarray(0, request.length - 10);

  // The head's string (a head over V8's longest string made this call fail and JavaScript was
  // handed uninitialised memory, exit 139): a connection JavaScript never heard of is reset.
  inject('napi_create_string_latin1(env, (const char *)dow_head_block', 0);
  assert.equal((await sendRaw(target, request, { allowReset: true })).length, 0);
  assert.match(parseScgiResponse(await sendRaw(target, request)).body.toString(), /^POST \/a 10/);

  // The same after the head arrived in two reads: JavaScript knew the connection (WAIT), so it
  // hears the error and closes it; nothing is answered.
  const split = stagedClient(target, head.subarray(0, 4));
  await waitUntil('the connection is known to JavaScript', () => rt.server.connectionCount === 1);
  inject('napi_create_string_latin1(env, (const char *)dow_head_block', 0);
  split.socket.write(head.subarray(4));
  assert.equal((await split.received).bytes.length, 0);

  // A body's bytes that cannot be handed over: the request fails, the connection closes.
  const body = stagedClient(target, head);
  await waitUntil('the request reached the app', () => rt.server.connectionCount === 1);
  inject('napi_create_buffer_copy(env, event->length, event->bytes', 0);
  body.socket.write(request.subarray(head.length));
  assert.doesNotMatch((await body.received).bytes.toString(), /POST \/a 10/);

  await waitUntil('every connection is gone in C', () => binding.counts().connections === 0);
  assert.match(parseScgiResponse(await sendRaw(target, request)).body.toString(), /^POST \/a 10/);
});

test('a failed Node-API call in a function JavaScript calls throws DOW_ERR_NATIVE_CALL', { skip }, (t) => {
  const inject = binding.injectFault?.bind(binding);
  if (!inject) return t.skip('not the fault-injecting build');
  inject('napi_create_object', 0);
  assert.throws(() => binding.counts(), { code: 'DOW_ERR_NATIVE_CALL', message: /counts failed/ });
  assert.equal(typeof binding.counts().connections, 'number');
  assert.throws(() => binding.write(1, 'not a buffer' as unknown as Buffer), { code: 'DOW_ERR_NATIVE_ARGS' });
});

test('the config refuses limits no path can carry; a head just over maxHeaderBytes gets a clean 431 on the native path', { skip }, async (t) => {
  const app = { name: 'shop', listen: '127.0.0.1:0', module: join(FIXTURES, 'hello-node.mjs') };
  // 600 MiB: over V8's longest string (2^29 - 24), which the head becomes.
  for (const [key, value] of [['maxHeaderBytes', 600 * 1024 * 1024], ['maxHeaderBytes', MAX_LIMITS.maxHeaderBytes + 1], ['headerTimeout', 2 ** 31], ['maxBodyBytes', 2 ** 53]] as const) {
    await assert.rejects(settingsFromConfig({ apps: [app], limits: { [key]: value } }, FIXTURES), { code: 'DOW_ERR_CONFIG', message: new RegExp(`limits.*${key}|${key}.*must be <=`) });
  }
  const settings = await settingsFromConfig({ apps: [app], limits: { maxHeaderBytes: MAX_LIMITS.maxHeaderBytes } }, FIXTURES);
  assert.ok(settings);

  const rt = await startRuntime(t, [{ name: 'echo', io: 'native', node: echoApp }], { limits: { maxHeaderBytes: 1024 } });
  const target = rt.targets.get('echo') as Target;
  const sized = (blockBytes: number): Buffer => {
    const base = encodeScgiRequest({ method: 'GET', uri: '/' });
    const block = Number(base.subarray(0, base.indexOf(':')).toString());
    return encodeScgiRequest({ method: 'GET', uri: '/', headers: { 'x-pad': 'p'.repeat(blockBytes - block - 'HTTP_X_PAD'.length - 2) } });
  };
  assert.equal(parseScgiResponse(await sendRaw(target, sized(1024))).status, 200);
  assert.equal(parseScgiResponse(await sendRaw(target, sized(1025), { allowReset: true })).status, 431);
});

test("a worker's copy of a shared socket leaves TCP_DEFER_ACCEPT on when it closes; only the socket's owner clears it", { skip }, async () => {
  const bound = await bindListeningSocket({ kind: 'tcp', host: '127.0.0.1', port: 0 }, 0o660);
  const fd = (bound.handle as { fd: number }).fd;
  const owner = { connection: () => {}, head: () => {}, refused: () => {}, acceptError: () => {} };
  try {
    // Two workers' copies of the supervisor's socket; a reload closes the first.
    const first = NativeListener.open(binding, fd, 511, DEFAULT_LIMITS, owner, 'first', false);
    const second = NativeListener.open(binding, fd, 511, DEFAULT_LIMITS, owner, 'second', false);
    assert.ok(binding.deferAcceptSeconds(fd) > 0, 'set by listen');
    first.close();
    assert.ok(binding.deferAcceptSeconds(fd) > 0, "an old worker's close cleared it for every other worker");
    second.stopHandshakes(false);
    second.close();
    assert.ok(binding.deferAcceptSeconds(fd) > 0);
    // A listener on a socket of its own (in-process mode) clears it as its stop begins.
    const own = NativeListener.open(binding, fd, 511, DEFAULT_LIMITS, owner, 'own', true);
    own.stopHandshakes(false);
    assert.equal(binding.deferAcceptSeconds(fd), 0);
    own.close();
  } finally {
    await bound.close();
  }
});

test('a socket that refuses handshakes: a connection made before is accepted, a new SYN is dropped, and its retry after the close is refused', { skip }, async (t) => {
  for (const host of ['127.0.0.1', '::1']) {
    const accepted: Socket[] = [];
    const server = createServer({ pauseOnConnect: true }, (socket) => accepted.push(socket));
    server.listen({ host, port: 0 });
    await once(server, 'listening');
    const handle = (server as unknown as { _handle: { fd: number } })._handle;
    const { port } = server.address() as AddressInfo;
    const queued = connect(port, host);
    await once(queued, 'connect');
    assert.equal(binding.refuseHandshakes(handle.fd), 0);
    const late = connect(port, host);
    let lateConnected = false;
    late.on('connect', () => (lateConnected = true));
    const lateEnd = once(late, 'error').then(([err]) => (err as NodeJS.ErrnoException).code);
    await waitUntil(`${host}: the earlier connection accepted`, () => accepted.length === 1, { timeoutMs: 30_000 });
    server.close();
    // The late client's SYN was dropped, not answered: it retries about a second later and finds
    // the socket closed. Had its handshake completed, the close would have reset it instead.
    assert.equal(await lateEnd, 'ECONNREFUSED');
    assert.equal(lateConnected, false);
    t.diagnostic(`${host}: refused after the close`);
    queued.destroy();
    for (const socket of accepted) socket.destroy();
  }
});

test('queued response bytes arrive whole and in order to a slow reader: a 24 MiB end() and 300 corked chunks', { skip }, async (t) => {
  const big = Buffer.alloc(24 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i * 2654435761 >>> 0, i);
  const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1 + ((i * 7919) % 5000), i % 251));
  const expected = createHash('sha256');
  for (const chunk of chunks) expected.update(chunk);
  expected.update(big);
  const rt = await startRuntime(t, [{
    name: 'big',
    io: 'native',
    node: (_req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      // Corked: one _writev of 301 Buffers (the head and the chunks), then the big one.
      res.socket?.cork();
      for (const chunk of chunks) res.write(chunk);
      res.socket?.uncork();
      res.end(big);
    },
  }]);
  const target = rt.targets.get('big') as { port: number; host?: string };
  const socket = connect(target.port, target.host ?? '127.0.0.1');
  socket.write(encodeScgiRequest({ method: 'GET', uri: '/' }));
  socket.pause();
  // The kernel took what it could; the rest waits in C, held (not copied) for this slow reader.
  await waitUntil('bytes wait in the native queue', () => binding.counts().queuedBytes > 0);
  const received: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      // Slow: a pause after every read, so the server's sends keep being partial.
      socket.pause();
      setImmediate(() => socket.resume());
    });
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  socket.resume();
  await done;
  const raw = Buffer.concat(received);
  const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
  assert.equal(body.length, big.length + chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  assert.equal(createHash('sha256').update(body).digest('hex'), expected.digest('hex'));
  await waitUntil('the queue is empty', () => binding.counts().queuedBytes === 0 && binding.counts().connections === 0);
});

test('a native listener in a worker thread: terminate() with a listener and a connection open ends the thread; the process lives on and exits 0', { skip }, async (t) => {
  const dir = await testDir(t, 'dow-native-thread');
  const worker = join(dir, 'listener-thread.mjs');
  const main = join(dir, 'main.mjs');
  // Plain JavaScript: the thread serves SCGI with the raw binding (no tsx in a worker).
  writeFileSync(worker, `
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import net from 'node:net';
const binding = createRequire(import.meta.url)(workerData.addon);
binding.init((kind, id) => {
  if (kind === 1) parentPort.postMessage('waiting');
  if (kind === 2) {
    binding.write(id, Buffer.from('Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nfrom a worker thread'));
    binding.close(id, false);
  }
});
const handle = net._createServerHandle('127.0.0.1', 0, 4, undefined, 0);
const out = {};
handle.getsockname(out);
if (binding.listen(handle.fd, 511, 1, 65536, 1000000, true) < 0) throw new Error('listen failed');
parentPort.postMessage(out.port);
`);
  writeFileSync(main, `
import { Worker } from 'node:worker_threads';
import net from 'node:net';
const block = 'CONTENT_LENGTH\\0' + '0\\0SCGI\\0' + '1\\0REQUEST_METHOD\\0GET\\0REQUEST_URI\\0/\\0';
const request = block.length + ':' + block + ',';
const worker = new Worker(process.argv[2], { workerData: { addon: process.argv[3] } });
const port = await new Promise((resolve) => worker.once('message', resolve));
const answer = await new Promise((resolve, reject) => {
  const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
  let text = '';
  socket.on('data', (chunk) => (text += chunk)).on('close', () => resolve(text)).on('error', reject);
});
console.log(answer.includes('from a worker thread') ? 'served' : 'not served: ' + answer);
// A connection whose head is still arriving: its socket is polled when the thread ends.
const open = net.connect(port, '127.0.0.1', () => open.write('70:'));
open.on('error', () => {});
await new Promise((resolve) => worker.once('message', resolve));
const code = await worker.terminate();
console.log('terminated', code);
open.destroy();
`);
  const child = spawn(process.execPath, [main, worker, load.binding === null ? '' : load.path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  assert.match(output, /served\nterminated 1\n/);
  assert.deepEqual([code, signal], [0, null], output);
});
