// Routes in the timing store on real SQLite files: per-route percentiles and the slowest
// requests through the reader, the bound on routes per app across runs, and a version 5 file
// (before routes) upgraded in place with its rows kept.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HISTOGRAM_RELATIVE_ERROR } from '../../shared/histogram.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { migrate, schemaVersion } from '../../shared/store/migrations.js';
import { OVERFLOW_ROUTE, ROUTES_PER_APP, SCHEMA_VERSION } from '../../shared/store/schema.js';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';
import { createTimingStore, type TimingStore } from '../../server/store/timing-store.js';
import { testDir } from '../helpers/temp-dir.js';

function open(t: TestContext, path: string): TimingStore {
  const logger = { warn() {}, error() {}, info() {} };
  const store = createTimingStore({ path, retryMaxMs: 100, logger, flushIntervalMs: 60_000 });
  t.after(() => store.close());
  return store;
}

function row(startMs: number, over: Partial<TimingRow>): TimingRow {
  return { app: 'shop', startMs, queueMs: 0.5, serviceMs: 1, status: 200, outcome: Outcome.ANSWERED, bytesIn: 1, bytesOut: 2, method: 'GET', path: '/', route: '/', ...over };
}

test('per-route counts, errors, percentiles and totals over a window; the slowest requests', async (t) => {
  const path = join(await testDir(t, 'routes'), 'timing.db');
  const store = open(t, path);
  const now = Date.now();
  // /items/:id: 100 requests of 1..100 ms a minute apart, two of them 500s; /health: 300 of 0.2 ms; another app.
  for (let i = 1; i <= 100; i++) store.record(row(now - i * 60_000, { path: `/items/${i}`, route: '/items/:id', serviceMs: i, status: i % 50 === 0 ? 500 : 200 }));
  for (let i = 0; i < 300; i++) store.record(row(now - i * 100, { path: '/health', route: '/health', serviceMs: 0.2 }));
  store.record(row(now - 5000, { method: 'POST', path: '/items', route: '/items', serviceMs: 3000 }));
  store.record(row(now - 5000, { app: 'blog', path: '/x', route: '/x', serviceMs: 9000 }));
  await store.close();

  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  const routes = reader.routes('shop', now - 3 * 3_600_000, now + 1);
  assert.deepEqual(routes.map((r) => `${r.method} ${r.route}`), ['GET /items/:id', 'POST /items', 'GET /health'], 'sorted by total time');
  const items = routes[0]!;
  assert.equal(items.count, 100);
  assert.equal(items.errors, 2);
  assert.equal(items.totalMs, 5050);
  const near = (got: number | null, want: number) => assert.ok(got !== null && Math.abs(got - want) <= want * HISTOGRAM_RELATIVE_ERROR + 1, `${got} vs ${want}`);
  near(items.p50Ms, 50);
  near(items.p95Ms, 95);
  near(items.p99Ms, 99);
  assert.equal(routes[2]!.count, 300);
  // A window that leaves out the older half of /items/:id: its edge is read at 1 min buckets.
  const edge = Math.floor((now - 50 * 60_000 - 500) / 60_000) * 60_000;
  const inWindow = Array.from({ length: 100 }, (_, i) => now - (i + 1) * 60_000).filter((at) => at >= edge).length;
  assert.ok(inWindow >= 50 && inWindow <= 51, String(inWindow));
  assert.equal(reader.routes('shop', now - 50 * 60_000 - 500, now + 1).find((r) => r.route === '/items/:id')?.count, inWindow);

  // One route's series: a point a minute up to a day's window, an hour beyond; the minutes with
  // a request of /items/:id hold its 1 ms step and count once each.
  const series = reader.routeSeries('shop', 'GET', '/items/:id', now - 3 * 3_600_000, now + 1);
  assert.equal(series.stepMs, 60_000);
  assert.equal(series.points.reduce((n, p) => n + p.count, 0), 100);
  assert.equal(series.points.reduce((n, p) => n + p.errors, 0), 2);
  const oneAgo = series.points.find((p) => p.t <= now - 60_000 && p.t + 60_000 > now - 60_000)!;
  assert.deepEqual([oneAgo.count, oneAgo.service.p50], [1, 1]);
  assert.ok(series.points.every((p, i) => i === 0 || p.t - series.points[i - 1]!.t === 60_000), 'every minute, empty ones too');
  const week = reader.routeSeries('shop', 'GET', '/items/:id', now - 7 * 86_400_000, now + 1);
  assert.equal(week.stepMs, 3_600_000);
  assert.equal(week.points.reduce((n, p) => n + p.count, 0), 100);
  assert.equal(reader.routeSeries('shop', 'POST', '/items/:id', now - 3_600_000, now + 1).points.reduce((n, p) => n + p.count, 0), 0);

  const slowest = reader.slowest('shop', now - 3 * 3_600_000, now + 1, 3);
  assert.deepEqual(slowest.map((r) => [r.method, r.path, r.route, r.serviceMs]), [
    ['POST', '/items', '/items', 3000],
    ['GET', '/items/100', '/items/:id', 100],
    ['GET', '/items/99', '/items/:id', 99],
  ]);
  assert.deepEqual(reader.slowest('shop', now - 10_000, now + 1, 1).map((r) => r.path), ['/items']);
  assert.deepEqual(reader.slowest('nobody', now - 10_000, now + 1, 5), []);
});

test(`at most ${ROUTES_PER_APP} routes per app, the rest one (other) row, across a restart`, async (t) => {
  const path = join(await testDir(t, 'routes'), 'timing.db');
  const now = Date.now();
  const first = open(t, path);
  for (let i = 0; i < ROUTES_PER_APP + 50; i++) first.record(row(now - i, { route: `/r${i}`, method: i % 2 ? 'GET' : 'PUT' }));
  first.record(row(now, { app: 'blog', route: '/own' }));
  await first.close();
  const second = open(t, path);
  second.record(row(now, { route: '/r0', method: 'PUT' }));
  second.record(row(now, { route: '/new-after-restart' }));
  await second.close();

  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  const routes = reader.routes('shop', now - 60_000, now + 1);
  assert.equal(routes.length, ROUTES_PER_APP + 1);
  const other = routes.find((r) => r.route === OVERFLOW_ROUTE.route);
  assert.deepEqual([other?.method, other?.count], [OVERFLOW_ROUTE.method, 51]);
  assert.equal(routes.find((r) => r.route === '/r0')?.count, 2);
  assert.deepEqual(reader.routes('blog', now - 60_000, now + 1).map((r) => r.route), ['/own'], 'another app has its own bound');
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.prepare("SELECT count(*) AS n FROM requests WHERE route = '(other)'").pluck().get(), 51, 'raw rows carry the bounded route');
});

test('a version 5 file (before routes) is upgraded in place: old rows kept, new rows routed', async (t) => {
  const path = join(await testDir(t, 'routes'), 'timing.db');
  const now = Date.now();
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  migrate(old, path, 5);
  // A row as the version 5 writer inserted it.
  old.prepare(`INSERT INTO requests (app, start_ms, queue_ms, service_ms, status, outcome, bytes_in, bytes_out, method, path, instance_id)
               VALUES ('shop', ?, 0, 7, 200, 0, 1, 2, 'GET', '/old/1', 1)`).run(now - 2000);
  old.close();

  const store = open(t, path);
  store.record(row(now - 1000, { path: '/new/2', route: '/new/:id', serviceMs: 5 }));
  await store.close();

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.equal(schemaVersion(db), SCHEMA_VERSION);
  assert.deepEqual(db.prepare('SELECT path, route FROM requests ORDER BY id').all(), [{ path: '/old/1', route: null }, { path: '/new/2', route: '/new/:id' }]);
  const reader = openHistoryReader(path);
  t.after(() => reader.close());
  assert.deepEqual(reader.routes('shop', now - 60_000, now + 1).map((r) => [r.route, r.count]), [['/new/:id', 1]]);
  assert.deepEqual(reader.slowest('shop', now - 60_000, now + 1, 5).map((r) => [r.path, r.route]), [['/old/1', null], ['/new/2', '/new/:id']]);
});
