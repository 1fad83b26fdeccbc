/**
 * `protocol: 'http'` apps in worker processes: keep-alive connections served by the
 * workers, the thread limit across them, reloads under keep-alive load, and a stop that drains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { startLoad } from '../helpers/load.js';
import { poolApp, startSupervisor, type TestPoolApp } from '../helpers/supervisor.js';
import { waitForFigure } from '../helpers/stats.js';
import { testDir } from '../helpers/temp-dir.js';
import { reloadThrough, versionedApp } from '../helpers/versioned-app.js';
import { waitUntil } from '../helpers/wait.js';

function httpApp(app: TestPoolApp) {
  const settings = poolApp(app);
  settings.options.protocol = 'http';
  return settings;
}

interface Answer {
  status: number;
  body: string;
  reused: boolean;
}

/** Marks a socket that already carried a request. */
const kCarried = Symbol('carried');

function get(port: number, path: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Not req.reusedSocket: the agent sets it only when a free socket is at hand as the request
    // is added, not when a queued request gets a socket another request just freed.
    let reused = false;
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused }));
      res.on('error', reject);
    });
    req.on('socket', (socket: Socket & { [kCarried]?: boolean }) => {
      reused = socket[kCarried] === true;
      socket[kCarried] = true;
    });
    req.on('error', (err: Error & { reused?: boolean }) => reject(Object.assign(err, { reused })));
    req.end();
  });
}

/**
 * A GET sent on a kept-alive connection the server closed at that moment fails without an
 * answer; HTTP/1.1 clients and proxies send it again (RFC 9112, 9.3.1). nginx does so for an
 * idempotent request on a cached connection without counting it as a try, so it goes on while
 * its cached connections turn out closed: a worker closes its idle ones at its drain deadline, and
 * the next one the pool hands out may be another of them. Only that case is retried, at most once
 * per pooled connection and once more on a new one, and every retry is counted.
 */
async function getRetryingReused(port: number, path: string, agent: Agent, pool: number, retried: { n: number }): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await get(port, path, agent);
    } catch (err) {
      if (!(err as { reused?: boolean }).reused || attempt > pool) {
        throw Object.assign(err as Error, { message: `${(err as Error).message}${attempt > 0 ? ` (after ${attempt} sends on kept-alive connections that closed)` : ''}` });
      }
      retried.n++;
    }
  }
}

test('an HTTP app in 2 workers: kept-alive connections, each request counted, the limit across workers', async (t) => {
  const rt = await startSupervisor(t, [httpApp({ name: 'web', count: 2, threads: 4 })]);
  const port = (rt.targets.get('web') as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  // Four clients, ten requests each, one after another: each client's requests share a connection.
  const answers = (await Promise.all(Array.from({ length: 4 }, async () => {
    const mine: Answer[] = [];
    for (let i = 0; i < 10; i++) mine.push(await get(port, `/hold?ms=${i % 3}`, agent));
    return mine;
  }))).flat();
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
  assert.ok(answers.filter((a) => a.reused).length >= 30, `connections were reused: ${answers.filter((a) => a.reused).length} of 40 on a reused socket`);
  const figures = await waitForFigure(rt.figures, 'web_requests', '40');
  assert.equal(figures.get('web_workers'), '2');
});

test('a reload with an idle kept-alive connection ends within seconds, not at requestTimeout (the idle connection kept the old worker until its 60 s deadline)', async (t) => {
  const rt = await startSupervisor(t, [httpApp({ name: 'web', count: 1, threads: 2, requestTimeoutMs: 120_000 })], { drainTimeoutMs: 1000 });
  const port = (rt.targets.get('web') as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const before = await get(port, '/', agent);
  assert.equal(before.status, 200);
  // The connection now waits idle in the agent's pool, as in nginx's upstream keepalive cache.
  const started = performance.now();
  const result = await rt.supervisor.reload('web', 'test');
  const tookMs = performance.now() - started;
  // The old worker's drain deadline is max(drainTimeout, requestTimeout) = 120 s; its idle
  // connection is closed 5 s into the drain (HTTP_IDLE_DRAIN_MS), so the reload ends then.
  assert.ok(tookMs < 60_000, `the reload took ${Math.round(tookMs)} ms`);
  assert.notDeepEqual(result.newPids, result.oldPids);
});

test('reload under keep-alive load: new code, every request answered 200, versions only move forward', async (t) => {
  const dir = await testDir(t, 'http-reload');
  const app = await versionedApp(dir, 'v1', 3);
  const rt = await startSupervisor(t, [httpApp({ name: 'app', module: app.path, count: 2, threads: 8 })]);
  const port = (rt.targets.get('app') as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  t.after(() => agent.destroy());
  const seen: string[] = [];
  const failures: string[] = [];
  const retried = { n: 0 };
  const load = startLoad(6, async () => {
    try {
      const answer = await getRetryingReused(port, '/', agent, 6, retried);
      if (answer.status === 200) seen.push(answer.body);
      else failures.push(`status ${answer.status}`);
    } catch (err) {
      failures.push(`${(err as Error).message}${(err as { reused?: boolean }).reused === false ? ' (a new connection)' : ''}`);
    }
  });
  await reloadThrough(app, ['v2', 'v3'], {
    reload: () => rt.supervisor.reload('app', 'test'),
    served: (v) => waitUntil(`${v} served`, () => seen.filter((body) => body === v).length >= 20),
  });
  await load.stop();
  assert.deepEqual(failures, []);
  assert.deepEqual([...new Set(seen)], ['v1', 'v2', 'v3']);
  assert.ok(seen.length > 50, `${seen.length} requests served`);
  t.diagnostic(`${seen.length} requests, ${retried.n} sent again after their kept-alive connection closed`);
  // Within 50 ms of each worker's answer (COLLECT_TIMEOUT_MS), else as of its last one: waited for.
  await waitForFigure(rt.figures, 'app_requests', String(seen.length));
});
