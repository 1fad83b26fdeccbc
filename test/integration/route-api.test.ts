/**
 * The dashboard's per-route answers over worker processes, wired as `serve` wires them
 * (bin/start-runtime.ts), on a real SQLite store: routes by total time, the slowest requests,
 * and the requests running now, a hung one included with its age growing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeScgiRequest, scgiRequest, sendRaw } from '../helpers/scgi-client.js';
import { toTarget } from '../helpers/runtime.js';
import { poolApp } from '../helpers/supervisor.js';
import { testDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait.js';
import { startDashboardRuntime } from '../helpers/dashboard-runtime.js';

const ADMIN_TOKEN = 'route-api-test-Qm7pX2vL9kT4wR8zB3nY6c';

interface RouteRow { method: string; route: string; count: number; errors: number; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; totalMs: number }
interface Running { method: string; path: string; route: string; ageMs: number; queued: boolean; worker: number }

test('routes, slowest and in-flight requests through the dashboard API, from worker processes and a real store', async (t) => {
  // hangTimeout long enough that the hung worker is still there when the list is read.
  const runtime = await startDashboardRuntime(t, 'route-api', [poolApp({ name: 'shop', count: 2, threads: 4, hangTimeoutMs: 120_000 })], { drainTimeoutMs: 500, flushIntervalMs: 20, token: ADMIN_TOKEN });
  const base = `http://${runtime.dashboard?.address}`;
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const target = toTarget(runtime.server.addresses[0] as string);

  for (let i = 0; i < 6; i++) assert.equal((await scgiRequest(target, { uri: `/item/${i}` })).status, 200);
  for (const ms of [300, 400]) assert.equal((await scgiRequest(target, { uri: `/cpu?ms=${ms}` })).status, 200);

  const routes = await waitUntil('both routes in the store', async () => {
    const body = await get<{ routes: RouteRow[] }>('/api/apps/shop/routes?window=15m');
    return body.routes.length === 2 && body.routes[0]!.count === 2 ? body.routes : undefined;
  });
  assert.deepEqual(routes.map((r) => [r.method, r.route, r.count, r.errors]), [['GET', '/cpu', 2, 0], ['GET', '/item/:id', 6, 0]], 'by total time');
  assert.ok(routes[0]!.totalMs >= 700 && routes[0]!.p99Ms! >= 380, JSON.stringify(routes[0]));

  // One route's chart: every minute of the window, its requests in the minutes they ran.
  interface SeriesPoint { t: number; count: number; errors: number; service: { p50: number | null; p95: number | null; p99: number | null } }
  const series = await get<{ method: string; route: string; window: string; stepMs: number; fromMs: number; points: SeriesPoint[]; history: boolean }>(
    `/api/apps/shop/routes/series?window=15m&method=GET&route=${encodeURIComponent('/cpu')}`,
  );
  assert.deepEqual([series.method, series.route, series.window, series.stepMs, series.history], ['GET', '/cpu', '15m', 60_000, true]);
  assert.ok(series.points.length >= 15 && series.points.length <= 16, String(series.points.length));
  assert.equal(series.points.reduce((n, p) => n + p.count, 0), 2);
  const busy = series.points.filter((p) => p.count > 0);
  assert.ok(busy.every((p) => p.service.p99! >= 280 && p.service.p50! <= p.service.p99!), JSON.stringify(busy));
  assert.ok(series.points.filter((p) => p.count === 0).every((p) => p.service.p50 === null));
  const other = await get<{ points: SeriesPoint[] }>('/api/apps/shop/routes/series?window=15m&method=POST&route=/cpu');
  assert.equal(other.points.reduce((n, p) => n + p.count, 0), 0, 'the method is part of the route');
  for (const query of ['window=15m&method=GET', 'window=2h&method=GET&route=/cpu', `method=GET&route=${'x'.repeat(201)}`]) {
    const res = await fetch(`${base}/api/apps/shop/routes/series?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 400, query);
  }

  const slowest = await get<{ requests: Array<{ path: string; route: string; status: number; serviceMs: number }> }>('/api/apps/shop/slowest?window=1h&limit=2');
  assert.deepEqual(slowest.requests.map((r) => [r.path, r.route, r.status]), [['/cpu', '/cpu', 200], ['/cpu', '/cpu', 200]]);
  assert.ok(slowest.requests[0]!.serviceMs >= slowest.requests[1]!.serviceMs);

  const bad = await fetch(`${base}/api/apps/shop/slowest?limit=0`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(bad.status, 400);
  assert.equal((await fetch(`${base}/api/apps/shop/inflight`)).status, 401, 'no token, no list');

  // A request held in a worker, which then hangs for good: listed before, and still after.
  const file = join(await testDir(t, 'route-api-hang'), 'hang-now');
  const held = sendRaw(target, encodeScgiRequest({ uri: `/hang-when?file=${encodeURIComponent(file)}` }), { allowReset: true, timeoutMs: 120_000 }).catch(() => null);
  void held;
  const running = await waitUntil('the held request listed', async () => {
    const body = await get<{ available: boolean; requests: Running[] }>('/api/apps/shop/inflight');
    return body.requests.find((r) => r.path === '/hang-when');
  });
  assert.deepEqual([running.method, running.route, running.queued], ['GET', '/hang-when', false]);
  const pids = (await get<{ apps: Array<{ workerPids: number[] }> }>('/api/apps')).apps[0]!.workerPids;
  assert.ok(pids.includes(running.worker), `worker ${running.worker} among ${pids.join(' ')}`);
  const processes = await get<{ available: boolean; workers: Array<{ pid: number; rssBytes: number; cpuSeconds: number; requests: number }> }>('/api/apps/shop/processes');
  assert.equal(processes.available, true);
  assert.deepEqual(processes.workers.map((w) => w.pid).sort(), [...pids].sort());
  assert.equal(processes.workers.reduce((n, w) => n + w.requests, 0), 8, 'every answered request, counted by the worker that answered it');
  assert.ok(processes.workers.every((w) => w.rssBytes > 10 * 1024 * 1024 && w.cpuSeconds > 0), JSON.stringify(processes.workers));

  writeFileSync(file, '');
  assert.ok(existsSync(file));
  const stuck = await waitUntil('the hung request still listed, older', async () => {
    const body = await get<{ requests: Running[] }>('/api/apps/shop/inflight');
    const r = body.requests.find((x) => x.path === '/hang-when');
    return r !== undefined && r.ageMs > running.ageMs + 1000 ? r : undefined;
  });
  assert.equal(stuck.worker, running.worker);
});
