// Per-route live figures: bounded at the store's ROUTES_PER_APP in one process and again where
// the supervisor merges several, and a malformed worker message changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppStats } from '../../server/host/app-stats.js';
import { RouteStats } from '../../server/host/route-stats.js';
import { OVERFLOW_ROUTE, ROUTES_PER_APP } from '../../shared/store/schema.js';

function worker(first: number, count: number): AppStats {
  const stats = new AppStats();
  stats.routes = new RouteStats();
  for (let i = first; i < first + count; i++) stats.record(2, 0, 200, { method: 'GET', route: `/r${i}` });
  return stats;
}

test('two workers each under the bound, their union over it: the merge keeps the bound and every request', () => {
  const merged = new AppStats();
  merged.merge(worker(0, 150).toData());
  merged.merge(worker(100, 150).toData());
  const routes = [...merged.routes!.all()];
  const overflow = routes.find((r) => r.route === OVERFLOW_ROUTE.route && r.method === OVERFLOW_ROUTE.method);
  assert.equal(routes.length, ROUTES_PER_APP + 1);
  assert.equal(overflow?.statusClasses[1], 250 - ROUTES_PER_APP);
  assert.equal(routes.reduce((n, r) => n + r.durations.count, 0), 300);
  assert.equal(merged.requests, 300);
});

test('a malformed route entry is refused and leaves the figures as they were', () => {
  const merged = new AppStats();
  merged.merge(worker(0, 3).toData());
  const bad = worker(0, 3).toData();
  bad.routes![1]![2] = [1, 2];
  assert.throws(() => merged.merge(bad), { code: 'DOW_ERR_WORKER_FIGURES', message: /route GET \/r1: status classes \[1,2\]/ });
  assert.equal(merged.requests, 3);
  assert.equal(merged.durations.count, 3);
  assert.deepEqual([...merged.routes!.all()].map((r) => r.durations.count), [1, 1, 1]);
});

test('without routes kept, a request costs no route entry', () => {
  const stats = new AppStats();
  stats.record(1, 0, 200, { method: 'GET', route: '/x' });
  assert.equal(stats.routes, null);
  assert.equal('routes' in stats.toData(), false);
});
