/**
 * Logs for operators: log.file reopened on SIGUSR1 in the
 * supervisor and its workers, JSON when stdout is not a terminal, the app and the worker pid on
 * worker lines, the UP line naming the app and what it is, the opt-in access log (JSON and
 * combined), and a thread-limit change logged once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startRuntime } from '../../bin/start-runtime.js';
import { DEFAULT_LIMITS } from '../../server/protocol/limits.js';
import { Server } from '../../server/listen/server.js';
import { serveConfig } from '../helpers/cli-process.js';
import { getFreePort } from '../helpers/free-port.js';
import { openFiles } from '../helpers/proc.js';
import { captureLogs, startRuntime as startTestRuntime, toTarget } from '../helpers/runtime.js';
import { scgiRequest } from '../helpers/scgi-client.js';
import { cannotRunAsNobody } from '../helpers/systemd.js';
import { waitForLine } from '../helpers/log-file.js';
import { testDir } from '../helpers/temp-dir.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/dragon-on-wheels.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

test('log.file: JSON lines from the supervisor and its workers (app and worker pid on each), access lines, reopened on SIGUSR1 after logrotate moved it', async (t) => {
  const dir = await testDir(t, 'operator-logs');
  const port = await getFreePort();
  const server = await serveConfig(t, dir, {
    stats: false,
    store: false,
    dashboard: false,
    apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: `${FIXTURES}hello-node.mjs`, workers: 1 }],
    // Relative: next to the config file.
    log: { file: 'logs/server.log', access: true },
  });
  const file = join(dir, 'logs', 'server.log');
  const supervisorPid = server.child.pid as number;
  const up = await waitForLine(file, (l) => typeof l.msg === 'string' && l.msg.startsWith('UP on'));
  assert.match(up.msg as string, new RegExp(`UP on 127\\.0\\.0\\.1:${port} \\(shop, 1 worker, \\(req, res\\) function\\)`));
  assert.equal(up.app, 'shop');
  assert.equal(up.pid, supervisorPid);
  // The worker says what it detected, with its pid.
  const serving = await waitForLine(file, (l) => typeof l.msg === 'string' && /shop: serving .*hello-node\.mjs as /.test(l.msg));
  assert.equal(serving.app, 'shop');
  assert.notEqual(serving.pid, supervisorPid);
  assert.equal(serving.worker, serving.pid);

  const first = await scgiRequest({ port }, { uri: '/first?x=1', env: { REMOTE_ADDR: '203.0.113.9' } });
  assert.equal(first.status, 200);
  const access = await waitForLine(file, (l) => l.access === true);
  assert.equal(access.app, 'shop');
  assert.equal(access.worker, serving.pid);
  assert.equal(access.method, 'GET');
  assert.equal(access.url, '/first?x=1');
  assert.equal(access.status, 200);
  assert.equal(access.remote, '203.0.113.9');
  assert.ok(typeof access.bytes === 'number' && access.bytes > 0);
  assert.ok(typeof access.ms === 'number' && typeof access.queueMs === 'number');
  assert.equal(server.output(), '', 'nothing on stdout or stderr: everything went to the file');

  // logrotate: move the file, then `kill -USR1 <supervisor>`.
  await rename(file, `${file}.1`);
  process.kill(supervisorPid, 'SIGUSR1');
  await waitForLine(file, (l) => typeof l.msg === 'string' && /SIGUSR1: log file reopened, passed on to workers/.test(l.msg));
  // The worker gets its own SIGUSR1: the request waits until it has the new file open.
  await waitUntil('the worker writing to the new file', () => {
    const files = openFiles(serving.pid as number);
    return files.includes(file) && !files.includes(`${file}.1`);
  });
  const second = await scgiRequest({ port }, { uri: '/second' });
  assert.equal(second.status, 200);
  const after = await waitForLine(file, (l) => l.access === true && l.url === '/second');
  assert.equal(after.worker, serving.pid, 'the worker writes to the new file too');
  const old = await readFile(`${file}.1`, 'utf8');
  assert.match(old, /\/first\?x=1/);
  assert.doesNotMatch(old, /\/second/);
});

test('stdout that is not a terminal gets JSON lines; serve sets NODE_ENV=production unless set; a plain fetch handler under type auto is detected and served', async (t) => {
  const dir = await testDir(t, 'operator-logs');
  const port = await getFreePort();
  const config = join(dir, 'dragon.config.json');
  await writeFile(config, JSON.stringify({
    stats: false,
    store: false,
    dashboard: false,
    apps: [{ name: 'plain', listen: `127.0.0.1:${port}`, module: `${FIXTURES}plain-fetch.mjs`, workers: 0 }],
  }));
  const env = { ...process.env };
  delete env.NODE_ENV;
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  await waitUntil('the UP line', () => /UP on/.test(output));
  const lines = output.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; level: number; app?: string });
  // ", native I/O" where the native core serves it (io 'auto').
  const up = new RegExp(`^UP on 127\\.0\\.0\\.1:${port} \\(plain, in-process, \\(req, res\\) function\\)(, native I/O)?$`);
  assert.ok(lines.some((l) => up.test(String(l.msg)) && l.app === 'plain'), output);
  assert.ok(lines.some((l) => /^NODE_ENV=production \(the default for serve/.test(l.msg)), output);

  // The first call is made Node-style; what it returns is a Response, so it is written as one.
  const first = await scgiRequest({ port }, { uri: '/a' });
  assert.equal(first.status, 200);
  assert.equal(first.body.toString(), 'first call\n');
  assert.deepEqual(first.headers.get('x-kind'), ['fetch']);
  // From then on it gets a real Request; the app sees NODE_ENV=production.
  const second = await scgiRequest({ port }, { uri: '/b' });
  assert.equal(second.status, 200);
  assert.equal(second.body.toString(), 'fetch /b NODE_ENV=production\n');
  await waitUntil('the fetch-handler advice', () => /it is a fetch handler and is served as one from now on; set type: 'fetch'/.test(output));
});

test('access log in the combined format: the nine fields log analysers read, then app, pid and times', async (t) => {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const server = new Server({
    listeners: [{
      listen: '127.0.0.1:0',
      processor: { app: { name: 'blog', handler: { type: 'node', listener: (_req, res) => res.end('hello') }, threads: 2, queue: 10, queueTimeoutMs: 1000, requestTimeoutMs: 0, mount: '' } },
    }],
    logger: pino({ level: 'info' }, sink),
    accessLog: 'combined',
    announce: false,
  });
  await server.listen();
  t.after(() => server.close(0));
  const res = await scgiRequest(toTarget(server.addresses[0] as string), {
    method: 'POST',
    uri: '/posts?id="7"',
    body: 'x',
    env: { REMOTE_ADDR: '198.51.100.4', SERVER_PROTOCOL: 'HTTP/1.0' },
    headers: { 'User-Agent': 'curl/8.0', Referer: 'https://example.org/' },
  });
  assert.equal(res.status, 200);
  await waitUntil('the access line', () => text.includes('\n'));
  assert.match(
    text,
    new RegExp(`^198\\.51\\.100\\.4 - - \\[\\d{2}/[A-Z][a-z]{2}/\\d{4}:\\d{2}:\\d{2}:\\d{2} \\+0000\\] "POST /posts\\?id=\\\\x227\\\\x22 HTTP/1\\.0" 200 \\d+ "https://example\\.org/" "curl/8\\.0" app=blog pid=${process.pid} ms=\\d+\\.\\d queue_ms=\\d+\\.\\d\\n$`),
  );
});

test('a thread-limit change through the dashboard is logged once, with who asked', async (t) => {
  const { logs, logger } = captureLogs();
  const token = randomBytes(24).toString('hex');
  const runtime = await startRuntime({
    apps: [{
      listen: '127.0.0.1:0',
      options: { name: 'shop', handler: { type: 'node', listener: (_req, res) => res.end('ok') }, threads: 2, queue: 10, queueTimeoutMs: 1000, requestTimeoutMs: 0, mount: '' },
    }],
    stats: null,
    limits: { ...DEFAULT_LIMITS },
    drainTimeoutMs: 1000,
    log: { level: 'info', format: 'json' },
    store: null,
    dashboard: { listen: '127.0.0.1:0', token },
    persistLimits: false,
  }, logger);
  t.after(() => runtime.close());
  const res = await fetch(`http://${runtime.dashboard?.address}/api/apps/shop/threads`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ threads: 5 }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const changeLines = () => logs.filter((l) => JSON.stringify(l).includes('5') && /thread|limit/i.test(String(l.msg)));
  await waitUntil('the change logged', () => changeLines().length >= 1);
  // A negative check: no second line for the same change within a moment.
  await sleep(100);
  const lines = changeLines();
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.match(String(lines[0]?.msg), /shop: threads 2 -> 5 \(api 127\.0\.0\.1\)/);
});

test('errors Express and Hono catch themselves reach the server log through req.scgi.log / c.env.log, with the app name', async (t) => {
  const express = (await import('express')).default;
  const { Hono } = await import('hono');
  const shop = express();
  shop.get('/', () => {
    throw new Error('cart is empty');
  });
  // Express's own handler would print the stack to stderr, unprefixed; this sends it to our log.
  shop.use((err: Error, req: import('express').Request, res: import('express').Response, _next: import('express').NextFunction) => {
    req.scgi?.log.error({ err, url: req.url }, `request failed: ${err.message}`);
    res.status(500).send('Internal Server Error');
  });
  const api = new Hono<{ Bindings: import('../../server/index.js').ScgiRequestInfo }>();
  api.get('/', () => {
    throw new Error('no such user');
  });
  api.onError((err, c) => {
    c.env.log.error({ err, url: c.req.url }, `request failed: ${err.message}`);
    return c.text('Internal Server Error', 500);
  });
  const rt = await startTestRuntime(t, [
    { name: 'shop', node: shop as unknown as import('../../server/adapters/node/node-adapter.js').NodeListener },
    { name: 'api', fetch: (request, info) => api.fetch(request, info) },
  ]);
  assert.equal((await scgiRequest(rt.targets.get('shop') as { port: number }, { uri: '/' })).status, 500);
  assert.equal((await scgiRequest(rt.targets.get('api') as { port: number }, { uri: '/' })).status, 500);
  const shopLine = rt.logs.find((l) => l.msg === 'request failed: cart is empty');
  const apiLine = rt.logs.find((l) => l.msg === 'request failed: no such user');
  assert.equal(shopLine?.level, 50);
  assert.equal(shopLine?.app, 'shop');
  assert.match(String((shopLine?.err as { stack?: string } | undefined)?.stack), /cart is empty\n\s+at /);
  assert.equal(apiLine?.level, 50);
  assert.equal(apiLine?.app, 'api');
});

test('a fetch handler under type auto that fails on the Node-style first call: its 500 is logged with the advice to set type fetch', async (t) => {
  const { toAppHandler } = await import('../../server/host/app-loader.js');
  // test/fixtures/hello-fetch.mjs's handler: new URL(request.url) throws on a bare Node path.
  const fetchStyle = async (request: Request): Promise<Response> => new Response(`fetch ${new URL(request.url).pathname}\n`);
  const handler = await toAppHandler(fetchStyle, 'auto', 'api');
  const rt = await startTestRuntime(t, [{ name: 'api', handler }]);
  const res = await scgiRequest(rt.targets.get('api') as { port: number }, { uri: '/x' });
  assert.equal(res.status, 500);
  await waitUntil('DOW_ERR_APP_THREW logged', () => rt.logs.some((l) => l.code === 'DOW_ERR_APP_THREW'));
  assert.match(String(rt.logs.find((l) => l.code === 'DOW_ERR_APP_THREW')?.msg), /Invalid URL.*if it is a fetch handler, \(request\) => Response, set type: 'fetch' for the app/);
});

test('in-process, every line about an app carries its name too: a 503 and a request timeout', async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const rt = await startTestRuntime(t, [{ name: 'slow', threads: 1, queue: 0, requestTimeoutMs: 300, node: (_req, res) => void held.then(() => res.end('late')) }]);
  t.after(() => release());
  const target = rt.targets.get('slow') as { port: number };
  const first = scgiRequest(target, { uri: '/a' });
  await waitUntil('the first request running', () => rt.server.apps.get('slow')?.limiter.running === 1);
  assert.equal((await scgiRequest(target, { uri: '/b' })).status, 503);
  assert.equal((await first).status, 504);
  const rejected = rt.logs.find((l) => /Threads limit reached/.test(String(l.msg)));
  const timedOut = rt.logs.find((l) => l.code === 'DOW_ERR_REQUEST_TIMEOUT');
  assert.equal(rejected?.app, 'slow');
  assert.equal(timedOut?.app, 'slow');
});

test('log.file with user: the file is handed to the user before the workers start, so they log instead of crashing', { skip: cannotRunAsNobody() }, async (t) => {
  const dir = await testDir(t, 'operator-logs');
  // nobody must be able to reach the folder; the file itself is created as root at start.
  await chmod(dir, 0o755);
  const port = await getFreePort();
  const server = await serveConfig(t, dir, {
    user: 'nobody',
    stats: false,
    store: false,
    dashboard: false,
    apps: [{ name: 'shop', listen: `127.0.0.1:${port}`, module: `${FIXTURES}whoami-app.mjs`, workers: 1 }],
    log: { file: 'logs/server.log', access: true },
  });
  const file = join(dir, 'logs', 'server.log');
  await waitForLine(file, (l) => typeof l.msg === 'string' && l.msg.startsWith('UP on'));
  assert.equal((await stat(file)).uid, 65534);
  assert.equal((await scgiRequest({ port }, { uri: '/as-nobody' })).status, 200);
  const access = await waitForLine(file, (l) => l.access === true);
  assert.equal(access.url, '/as-nobody');
  assert.doesNotMatch(server.output(), /cannot write log\.file|exited before it was ready/);
});
