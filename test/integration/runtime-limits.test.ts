/**
 * Thread limits, queueing, timeouts, app errors and client aborts over real sockets: requests over
 * the limit wait, then get a clean 503 with Retry-After - never a silent close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { holdingApp } from '../helpers/gated-app.js';
import { encodeScgiRequest, scgiRequest, sendRaw } from '../helpers/scgi-client.js';
import { startRuntime } from '../helpers/runtime.js';
import { waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { sleep, waitUntil } from '../helpers/wait.js';

test('over the limit, requests wait in FIFO order and all get answered', async (t) => {
  const order: number[] = [];
  const rt = await startRuntime(t, [{
    name: 'app', threads: 2, queue: 50,
    node(req, res) {
      order.push(Number(req.url!.slice(1)));
      setTimeout(() => res.end('ok'), 20);
    },
  }]);
  const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    await sleep(i * 2);
    return scgiRequest(rt.targets.get('app')!, { uri: `/${i}` });
  }));
  assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
  assert.equal(rt.figures().get('app_requests'), '20');
  assert.equal(rt.figures().get('app_rejected'), '0');
});

test('a full queue gets 503 with Retry-After and the original log wording', async (t) => {
  const app = holdingApp();
  const rt = await startRuntime(t, [{ name: 'Limited', threads: 1, queue: 1, node: app.node }]);
  const target = rt.targets.get('Limited')!;
  const first = scgiRequest(target);
  await waitUntil('1 waiting in app', () => app.held === 1);
  const second = scgiRequest(target);
  await waitForFigure(rt.figures, 'Limited_queued', '1');
  const third = await scgiRequest(target);
  assert.equal(third.status, 503);
  assert.deepEqual(third.headers.get('retry-after'), ['1']);
  assert.ok(rt.logs.some((line) => /^Limited: Threads limit reached! \(limit=1 online=1\)/.test(String(line.msg))));
  app.release();
  await waitUntil('1 waiting in app', () => app.held === 1);
  app.release();
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  assert.equal(rt.figures().get('Limited_rejected'), '1');
  assert.equal(rt.figures().get('Limited_errors'), '1');
});

test('queue 0 answers 503 at once when every thread is busy', async (t) => {
  const app = holdingApp();
  const rt = await startRuntime(t, [{ name: 'app', threads: 1, queue: 0, node: app.node }]);
  const first = scgiRequest(rt.targets.get('app')!);
  await waitUntil('1 waiting in app', () => app.held === 1);
  assert.equal((await scgiRequest(rt.targets.get('app')!)).status, 503);
  app.release();
  assert.equal((await first).status, 200);
});

test('a request that waits longer than queueTimeout gets 503', async (t) => {
  const app = holdingApp();
  const rt = await startRuntime(t, [{ name: 'app', threads: 1, queue: 10, queueTimeoutMs: 150, node: app.node }]);
  const first = scgiRequest(rt.targets.get('app')!);
  await waitUntil('1 waiting in app', () => app.held === 1);
  const started = Date.now();
  const waited = await scgiRequest(rt.targets.get('app')!);
  assert.equal(waited.status, 503);
  assert.ok(Date.now() - started >= 140);
  assert.ok(rt.logs.some((line) => /waited \d+ ms in the queue/.test(String(line.msg))));
  app.release();
  await first;
});

test('raising the limit at run time admits waiting requests at once; lowering lets running ones finish', async (t) => {
  const app = holdingApp();
  const rt = await startRuntime(t, [{ name: 'app', threads: 1, queue: 10, node: app.node }]);
  const target = rt.targets.get('app')!;
  const requests = Array.from({ length: 4 }, () => scgiRequest(target));
  await waitUntil('1 waiting in app, 3 queued', () => app.held === 1 && rt.figures().get('app_queued') === '3');
  const change = await rt.server.setThreads('app', 4, 'test');
  assert.deepEqual(change, { app: 'app', oldThreads: 1, newThreads: 4 });
  await waitUntil('4 waiting in app', () => app.held === 4);
  assert.equal(rt.figures().get('app_threads'), '4');
  // Lower to 1 while 4 run: nothing is cut, and new requests wait until fewer than 1 run.
  await rt.server.setThreads('app', 1, 'test');
  const late = scgiRequest(target);
  await waitForFigure(rt.figures, 'app_queued', '1');
  assert.equal(rt.figures().get('app_online'), '4');
  app.release();
  await waitUntil('1 waiting in app', () => app.held === 1);
  assert.equal(rt.figures().get('app_online'), '1');
  app.release();
  for (const res of await Promise.all([...requests, late])) assert.equal(res.status, 200);
  assert.equal(app.maxRunning, 4);
  await assert.rejects(rt.server.setThreads('app', 0, 'test'), { code: 'DOW_ERR_THREADS_RANGE' });
  await assert.rejects(rt.server.setThreads('nope', 2, 'test'), { code: 'DOW_ERR_UNKNOWN_APP' });
});

test('a request over its requestTimeout gets 504, or is cut if its head went out; both counted', async (t) => {
  const rt = await startRuntime(t, [{
    name: 'app', requestTimeoutMs: 150,
    node(req, res) {
      if (req.url === '/head-sent') res.write('partial');
      // never ends
    },
  }]);
  const target = rt.targets.get('app')!;
  const res = await scgiRequest(target);
  assert.equal(res.status, 504);
  const raw = await sendRaw(target, encodeScgiRequest({ uri: '/head-sent' }), { allowReset: true });
  assert.doesNotMatch(raw.toString(), /Status: 504/);
  assert.equal(rt.figures().get('app_timeouts'), '2');
  assert.ok(rt.logs.some((line) => line.code === 'DOW_ERR_REQUEST_TIMEOUT'));
});

test('an app that throws, synchronously or in a promise, gives 500 and a logged stack; the others keep serving', async (t) => {
  const rt = await startRuntime(t, [
    { name: 'sync', node: () => { throw new Error('sync boom'); } },
    { name: 'async', node: async () => { await sleep(5); throw new Error('async boom'); } },
    { name: 'fetchThrows', fetch: () => { throw new Error('fetch boom'); } },
    { name: 'fetchRejects', fetch: async () => { throw new Error('fetch async boom'); } },
    { name: 'fetchBadValue', fetch: (() => 'not a response') as never },
    { name: 'late', node: (_req, res) => { res.write('started'); throw new Error('after head'); } },
    { name: 'healthy', node: (_req, res) => res.end('fine') },
  ]);
  for (const name of ['sync', 'async', 'fetchThrows', 'fetchRejects', 'fetchBadValue']) {
    const res = await scgiRequest(rt.targets.get(name)!);
    assert.equal(res.status, 500, name);
    assert.equal(rt.figures().get(`${name}_errors`), '1');
  }
  const line = rt.logs.find((entry) => entry.app === 'sync' && entry.code === 'DOW_ERR_APP_THREW');
  assert.match(String((line?.err as { stack?: string })?.stack), /sync boom\n\s+at /);
  assert.ok(rt.logs.some((entry) => /fetch handler returned string/.test(String(entry.msg)) || /not a Response/.test(String((entry.err as { message?: string })?.message))));
  const cut = await sendRaw(rt.targets.get('late')!, encodeScgiRequest({}), { allowReset: true });
  // After the head went out no 500 can follow: the connection is cut, so the front end sees an
  // upstream error rather than a response that looks complete.
  assert.doesNotMatch(cut.toString(), /Status: 500/);
  assert.equal(rt.figures().get('late_errors'), '0');
  assert.equal(rt.figures().get('late_requests'), '1');
  assert.equal((await scgiRequest(rt.targets.get('healthy')!)).body.toString(), 'fine');
});

test('a client that disconnects mid-request aborts the app request and is counted as 499', async (t) => {
  const events: string[] = [];
  const rt = await startRuntime(t, [{
    name: 'app',
    node(req, res) {
      req.on('aborted', () => events.push('req aborted'));
      req.on('close', () => events.push('req close'));
      res.on('close', () => events.push('res close'));
      res.write('tick');
    },
  }, {
    name: 'fetchApp',
    fetch(request) {
      request.signal.addEventListener('abort', () => events.push('signal abort'));
      return new Response(new ReadableStream({ pull: () => sleep(50) }));
    },
  }]);
  for (const name of ['app', 'fetchApp']) {
    const socket = connect((rt.targets.get(name) as { port: number }).port, '127.0.0.1');
    socket.write(encodeScgiRequest({ method: 'POST', body: 'x'.repeat(10) }).subarray(0, -5));
    await waitForFigure(rt.figures, `${name}_online`, '1');
    socket.destroy();
    await waitForFigure(rt.figures, `${name}_aborted`, '1');
    assert.equal(rt.figures().get(`${name}_online`), '0');
  }
  await waitUntil('res close, req aborted and signal abort', () => events.includes('res close') && events.includes('req aborted') && events.includes('signal abort'));
  assert.equal(rt.figures().get('app_requests'), '1');
});

test('unix sockets: file mode set, stale file replaced, a live socket never taken over', async (t) => {
  const { stat, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { createServer } = await import('node:net');
  const dir = await testDir(t, 'unix');
  const path = join(dir, 'app.sock');
  // A stale socket file: bound by a server that is gone.
  const stale = createServer();
  await new Promise<void>((resolve) => stale.listen(path, resolve));
  (stale as unknown as { _handle: { close(): void } })._handle.close();
  const rt = await startRuntime(t, [{ name: 'app', listen: `unix:${path}`, socketMode: 0o666, node: (_req, res) => res.end('over unix') }]);
  assert.equal((await stat(path)).mode & 0o777, 0o666);
  assert.equal((await scgiRequest({ path })).body.toString(), 'over unix');
  // A second runtime on the same path must refuse, and leave the live socket alone.
  await assert.rejects(startRuntime(t, [{ name: 'other', listen: `unix:${path}`, node: (_req, res) => res.end('x') }]), /another process is listening/);
  assert.equal((await scgiRequest({ path })).body.toString(), 'over unix');
  const notSocket = join(dir, 'file.sock');
  await writeFile(notSocket, 'data');
  await assert.rejects(startRuntime(t, [{ name: 'x', listen: `unix:${notSocket}`, node: (_req, res) => res.end('x') }]), /not a socket/);
  assert.ok(rt);
});

test('the stats port prints every figure in sh format, with the original keys', async (t) => {
  const rt = await startRuntime(t, [{ name: 'A', node: (_req, res) => res.end('ok') }, { name: 'B', node: (_req, res) => res.end('ok') }]);
  for (let i = 0; i < 3; i++) await scgiRequest(rt.targets.get('A')!);
  const text = (await sendRaw(rt.stats, Buffer.alloc(0))).toString();
  const lines = text.trim().split('\n');
  assert.deepEqual(lines, [...lines].sort());
  for (const line of lines) assert.match(line, /^SCGI_SERVER_[A-Za-z0-9_]+='[^']*'$/);
  const figures = rt.figures();
  for (const key of ['pid', 'start_time', 'start_at_asctime', 'uptime', 'uptime_str', 'requests', 'online', 'version']) assert.ok(figures.has(key), key);
  assert.equal(figures.get('requests'), '3');
  for (const key of ['requests', 'online', 'online_time', 'online_time_str', 'online_time_longest', 'online_time_shortest', 'online_time_average', 'online_time_stddev', 'threads', 'queued', 'rejected', 'errors', 'timeouts', 'aborted', 'queue_time_average', 'online_time_p50', 'online_time_p95', 'online_time_p99']) {
    assert.ok(figures.has(`A_${key}`), `A_${key}`);
  }
  assert.equal(figures.get('B_error'), 'Not enough data');
  assert.equal(figures.get('B_requests'), '0');
  assert.equal(figures.get('B_online'), '0');
  assert.ok(!figures.has('B_online_time'));
  assert.match(figures.get('start_at_asctime')!, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
});

test('a fetch handler\'s request.signal aborts on a timeout, and stays quiet after a normal answer', async (t) => {
  const seen: Request[] = [];
  const rt = await startRuntime(t, [
    { name: 'slowFetch', requestTimeoutMs: 100, fetch: async (request) => { seen.push(request); await sleep(300); return new Response('late'); } },
    { name: 'quickFetch', fetch: (request) => { seen.push(request); return new Response('quick'); } },
  ]);
  assert.equal((await scgiRequest(rt.targets.get('slowFetch')!)).status, 504);
  assert.equal(seen[0]!.signal.aborted, true, 'ended by the server: aborted');
  assert.equal((await scgiRequest(rt.targets.get('quickFetch')!)).body.toString(), 'quick');
  await waitForFigure(rt.figures, 'quickFetch_requests', '1');
  assert.equal(seen[1]!.signal.aborted, false, 'answered: never aborted');
  assert.ok(seen[1] instanceof Request);
});
