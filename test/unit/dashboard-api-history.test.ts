/**
 * Dashboard API through inject(): what the read routes answer (overview, apps, series, audit,
 * runtime events), with a timing store, while the runtime is down, and without a store.
 */
import assert from 'node:assert/strict';
import { describe, it, after } from 'node:test';
import type { AuditEntry, EventEntry } from '../../shared/history.js';
import { FAKE_RELOAD_MS } from '../browser/fake-runtime.js';
import { assertErrorBody, bearer, harness, NOW, stubHistory } from '../helpers/dashboard-api.js';
import { scaledMs, waitUntil } from '../helpers/wait.js';

/** The runtime was read on the real clock (not the dashboard's `now`), within the snapshot cache's reuse. */
function assertJustChecked(checkedAtMs: number): void {
  assert.ok(checkedAtMs <= Date.now() && checkedAtMs > Date.now() - scaledMs(60_000), `checkedAtMs ${checkedAtMs}`);
}

describe('dashboard API: responses and their schemas', () => {
  const audit: AuditEntry[] = [
    { id: 3, atMs: NOW - 60_000, app: 'shop', oldThreads: 4, newThreads: 8, source: 'dashboard 127.0.0.1' },
    { id: 2, atMs: NOW - 120_000, app: 'blog_v2', oldThreads: 2, newThreads: 1, source: 'api 127.0.0.1' },
    { id: 1, atMs: NOW - 2 * 3_600_000, app: 'shop', oldThreads: 2, newThreads: 4, source: 'api 127.0.0.1' },
  ];
  const events: EventEntry[] = [
    { id: 12, atMs: NOW - 30_000, app: 'shop', kind: 'reload', pid: 0, detail: 'pids 5001 5002 → 6001 6002 in 850 ms', source: 'dashboard 127.0.0.1' },
    { id: 11, atMs: NOW - 90_000, app: 'shop', kind: 'hang', pid: 5003, detail: 'stuck for 30012 ms', source: 'supervisor' },
    { id: 10, atMs: NOW - 100_000, app: 'blog_v2', kind: 'recycle', pid: 7001, detail: 'after 10000 requests', source: 'supervisor' },
    { id: 9, atMs: NOW - 3 * 3_600_000, app: 'shop', kind: 'restart', pid: 4999, detail: 'exit code 1', source: 'supervisor' },
  ];
  const h = harness({ history: stubHistory(audit, events) });
  after(() => h.app.close());
  const get = async (url: string) => {
    const res = await h.send({ method: 'GET', url, headers: bearer });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json();
  };

  it('GET /api/overview', async () => {
    const body = await get('/api/overview');
    assert.equal(body.reachable, true);
    assert.deepEqual([body.error, body.online, body.appCount], [null, 2, 2]);
    assertJustChecked(body.checkedAtMs);
    assert.ok(body.uptimeS >= 93_784 && body.startTimeMs <= body.checkedAtMs - 93_784_000, JSON.stringify(body));
    assert.equal(body.pid, 4242);
    assert.equal(body.version, '2.0.0');
    assert.match(body.uptimeStr, /^1d 02h 03m 0\ds$/);
    assert.equal(body.requests, 2468);
    assert.equal(body.history, true);
  });

  it('GET /api/apps: snapshot figures plus the last 5 minutes', async () => {
    const body = await get('/api/apps');
    assert.deepEqual([body.reachable, body.historyUnavailable], [true, null]);
    assertJustChecked(body.checkedAtMs);
    assert.deepEqual(body.apps.map((a: { name: string }) => a.name), ['shop', 'blog_v2']);
    const shop = body.apps[0];
    assert.equal(shop.listen, '127.0.0.1:9000');
    assert.deepEqual(
      [shop.mount, shop.online, shop.queued, shop.requests, shop.rejected, shop.errors, shop.timeouts, shop.aborted],
      ['/', 1, 0, 1234, 2, 3, 1, 0],
    );
    assert.equal(shop.threads, 4);
    assert.equal(shop.recent.windowMs, 300_000);
    assert.equal(shop.recent.errorRate, 0.05);
    assert.deepEqual(shop.recent.service, { p50: 12.5, p95: 40, p99: null });
    // Worker figures survive the response schema's serializer (it drops undeclared fields).
    assert.deepEqual([shop.workers, shop.restarts, shop.hangs, shop.workerPids, shop.backoffMs], [2, 0, 0, [5001, 5002], 0]);
    assert.deepEqual([body.apps[1].workers, body.apps[1].workerPids], [0, []]);
  });

  it('GET /api/apps shows a crash loop held back: backoffMs', async () => {
    Object.assign(h.runtime.apps[0]!, { workers: 0, workerPids: [], restarts: 7, backoffMs: 4000 });
    try {
      // Shown once the snapshot cache has let the earlier state go.
      const shop = await waitUntil('the crash loop on /api/apps', async () => {
        const app = (await get('/api/apps')).apps[0];
        return app.backoffMs === 4000 ? app : undefined;
      });
      assert.deepEqual([shop.workers, shop.restarts, shop.backoffMs], [0, 7, 4000]);
    } finally {
      Object.assign(h.runtime.apps[0]!, { workers: 2, workerPids: [5001, 5002], restarts: 0, backoffMs: 0 });
      await waitUntil('the app restored on /api/apps', async () => (await get('/api/apps')).apps[0].backoffMs === 0);
    }
  });

  it('GET /api/apps/:name/series with markers from the window, oldest first', async () => {
    const body = await get('/api/apps/shop/series?window=1h');
    assert.deepEqual([body.app, body.window, body.stepMs, body.history, body.historyUnavailable], ['shop', '1h', 10_000, true, null]);
    assert.equal(body.toMs - body.fromMs, 3_600_000);
    assert.equal(body.points.length, 2);
    assert.deepEqual(body.points[1], {
      t: body.fromMs + 10_000,
      count: 10,
      status: { '1xx': 0, '2xx': 8, '3xx': 0, '4xx': 1, '5xx': 1 },
      rejected: 1,
      timeouts: 0,
      aborted: 0,
      service: { p50: 12.5, p95: 40, p99: null },
      queue: { p50: 0.1, p95: 0.5, p99: 1 },
    });
    assert.deepEqual(body.markers.map((m: AuditEntry) => m.id), [3]);
    assert.deepEqual(body.events.map((e: EventEntry) => [e.id, e.kind]), [[11, 'hang'], [12, 'reload']], 'this app, oldest first');
    assert.deepEqual(body.events[0], events[1]);
    const week = await get('/api/apps/shop/series?window=7d');
    assert.deepEqual(week.markers.map((m: AuditEntry) => m.id), [1, 3]);
    assert.deepEqual(week.events.map((e: EventEntry) => e.id), [9, 11, 12]);
    assert.equal((await get('/api/apps/shop/series')).window, '1h');
  });

  it('series refuses an unknown window or app', async () => {
    assertErrorBody(await h.send({ method: 'GET', url: '/api/apps/shop/series?window=2h', headers: bearer }), 400, 'DOW_ERR_BAD_REQUEST');
    assertErrorBody(await h.send({ method: 'GET', url: '/api/apps/nope/series?window=1h', headers: bearer }), 404, 'DOW_ERR_UNKNOWN_APP');
  });

  it('GET /api/audit, newest first, filtered and limited', async () => {
    const body = await get('/api/audit');
    assert.deepEqual([body.history, body.historyUnavailable], [true, null]);
    assert.deepEqual(body.entries, audit);
    assert.deepEqual((await get('/api/audit?app=shop&limit=1')).entries.map((e: AuditEntry) => e.id), [3]);
    assertErrorBody(await h.send({ method: 'GET', url: '/api/audit?limit=0', headers: bearer }), 400, 'DOW_ERR_BAD_REQUEST');
  });

  it('GET /api/runtime-events, newest first, filtered by app and time, limited', async () => {
    const body = await get('/api/runtime-events');
    assert.deepEqual([body.history, body.historyUnavailable], [true, null]);
    assert.deepEqual(body.entries.map((e: EventEntry) => e.id), [12, 11, 10, 9]);
    assert.deepEqual(body.entries, events);
    assert.deepEqual((await get('/api/runtime-events?app=shop&limit=2')).entries.map((e: EventEntry) => e.id), [12, 11]);
    assert.deepEqual((await get(`/api/runtime-events?sinceMs=${NOW - 100_000}&untilMs=${NOW - 30_000}`)).entries.map((e: EventEntry) => e.id), [11, 10]);
    for (const query of ['limit=0', 'limit=1001', 'sinceMs=-1', 'untilMs=soon']) {
      assertErrorBody(await h.send({ method: 'GET', url: `/api/runtime-events?${query}`, headers: bearer }), 400, 'DOW_ERR_BAD_REQUEST');
    }
  });

  it('an unreachable runtime is reachable:false with the reason, not an error', async () => {
    h.runtime.down = true;
    try {
      // Shown once the snapshot cache's reuse window has passed.
      const overview = await waitUntil('the runtime unreachable on /api/overview', async () => {
        const body = await get('/api/overview');
        return body.reachable === false ? body : undefined;
      });
      assert.equal(overview.reachable, false);
      assert.equal(overview.history, true);
      assertJustChecked(overview.checkedAtMs);
      assert.match(overview.error, /ECONNREFUSED/);
      assert.doesNotMatch(overview.error, /runtime unreachable/i, 'the page says that part itself');
      assert.equal(overview.pid, null);
      const apps = await get('/api/apps');
      // The apps last seen stay, with the timing store's figures, so the page keeps their charts.
      assert.equal(apps.reachable, false);
      assert.deepEqual(apps.apps.map((a: { name: string }) => a.name), ['shop', 'blog_v2']);
      assert.equal(apps.apps[0].recent.count, 20);
      assert.deepEqual([apps.apps[0].threads, apps.apps[0].workerPids], [4, [5001, 5002]]);
      // History still answers while the runtime is down.
      const series = await get('/api/apps/shop/series?window=15m');
      assert.deepEqual([series.app, series.window, series.toMs - series.fromMs, series.points.length], ['shop', '15m', 900_000, 2]);
    } finally {
      h.runtime.down = false;
    }
  });
});

describe('dashboard API: without a timing store', () => {
  const h = harness({ history: null });
  after(() => h.app.close());

  it('cards have no recent figures, series are empty, and changes are audited in memory', async () => {
    const apps = (await h.send({ method: 'GET', url: '/api/apps', headers: bearer })).json();
    assert.deepEqual(apps.apps.map((a: { name: string; recent: unknown }) => [a.name, a.recent]), [['shop', null], ['blog_v2', null]]);
    assert.equal(apps.historyUnavailable, null);
    const put = await h.send({ method: 'PUT', url: '/api/apps/blog_v2/threads', headers: bearer, payload: { threads: 3 } });
    assert.equal(put.statusCode, 200);
    const audit = (await h.send({ method: 'GET', url: '/api/audit', headers: bearer })).json();
    assert.deepEqual([audit.history, audit.historyUnavailable], [false, null]);
    assert.deepEqual(
      audit.entries.map((e: AuditEntry) => [e.app, e.oldThreads, e.newThreads, e.source]),
      [['blog_v2', 2, 3, 'api 127.0.0.1']],
    );
    const series = (await h.send({ method: 'GET', url: '/api/apps/blog_v2/series?window=15m', headers: bearer })).json();
    assert.deepEqual([series.app, series.window, series.history], ['blog_v2', '15m', false]);
    assert.deepEqual(series.points, []);
    assert.deepEqual(series.markers, audit.entries, 'the change just made is the chart\'s marker');
  });

  it('reloads made here are kept in memory for the events table and the chart markers', async () => {
    const res = await h.send({ method: 'POST', url: '/api/apps/shop/reload', headers: bearer });
    assert.equal(res.statusCode, 200, res.body);
    const events = (await h.send({ method: 'GET', url: '/api/runtime-events', headers: bearer })).json();
    assert.deepEqual([events.history, events.historyUnavailable], [false, null]);
    assert.deepEqual(
      events.entries.map((e: EventEntry) => [e.atMs, e.app, e.kind, e.pid, e.detail, e.source]),
      [[NOW, 'shop', 'reload', 0, `pids 5001 5002 → 6001 6002 in ${FAKE_RELOAD_MS} ms`, 'api 127.0.0.1']],
    );
    const series = (await h.send({ method: 'GET', url: '/api/apps/shop/series?window=15m', headers: bearer })).json();
    assert.deepEqual(series.events, events.entries, 'the reload just made is the chart\'s event');
    assert.deepEqual(series.markers, []);
    const refused = await h.send({ method: 'POST', url: '/api/apps/blog_v2/reload', headers: bearer });
    assert.equal(refused.statusCode, 409);
    assert.equal((await h.send({ method: 'GET', url: '/api/runtime-events', headers: bearer })).json().entries.length, 1, 'a refused reload is no event');
  });
});
