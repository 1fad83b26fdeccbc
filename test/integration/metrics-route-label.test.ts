// The metrics listener's opt-in route label against a real Supervisor: worker processes (whose
// figures the supervisor merges) and an in-process app, real sockets. Off, the label set is the
// usual one; on, every request is counted under its route, at most ROUTES_PER_APP of them per
// app plus the overflow route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UNMATCHED_ROUTE } from '../../server/host/route-fold.js';
import { OVERFLOW_ROUTE, ROUTES_PER_APP } from '../../shared/store/schema.js';
import { httpGet } from '../helpers/http-get.js';
import { inlineApp, parseSamples, sampleValue, startMetricsSupervisor, type PromSample } from '../helpers/metrics.js';
import { scgiRequest } from '../helpers/scgi-client.js';

async function scrape(base: string): Promise<PromSample[]> {
  const reply = await httpGet(`${base}/metrics`);
  assert.equal(reply.status, 200);
  return parseSamples(reply.body);
}

const durationCounts = (samples: PromSample[], app: string): PromSample[] =>
  samples.filter((s) => s.name === 'dragon_request_duration_seconds_count' && s.labels.app === app);

test('metrics.routeLabel off: no method or route label on any series', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'shop', count: 1, threads: 2 }, inlineApp('blog')]);
  await scgiRequest(rt.targets.get('shop')!, { uri: '/status' });
  await scgiRequest(rt.targets.get('blog')!, { uri: '/posts' });
  const samples = await scrape(rt.base);
  assert.ok(samples.every((s) => !('route' in s.labels) && !('method' in s.labels)));
  assert.deepEqual(Object.keys(durationCounts(samples, 'shop')[0]!.labels), ['app']);
});

test('metrics.routeLabel on: requests and durations by route, for workers and in-process', async (t) => {
  const rt = await startMetricsSupervisor(t, [{ name: 'shop', count: 2, threads: 4 }, inlineApp('blog')], { routeLabel: true });
  for (const [app, uris] of [['shop', ['/cart', '/cart', '/cart?code=500', '/items/17', '/items/18']], ['blog', ['/posts', '/posts/3', '/posts/4', '/posts/5?code=403', '/nowhere?code=404']]] as const) {
    await Promise.all(uris.map((uri) => scgiRequest(rt.targets.get(app)!, { uri })));
  }
  const samples = await scrape(rt.base);
  const requests = (app: string, route: string, code: string): number => sampleValue(samples, 'dragon_requests_total', { app, method: 'GET', route, code });
  assert.equal(requests('shop', '/cart', '2xx'), 2);
  assert.equal(requests('shop', '/cart', '5xx'), 1);
  assert.equal(requests('shop', '/items/:id', '2xx'), 2, 'ids folded, both workers merged');
  assert.equal(requests('blog', '/posts', '2xx'), 1);
  assert.equal(requests('blog', '/posts/:id', '2xx'), 2);
  assert.equal(requests('blog', '/posts/:id', '4xx'), 1);
  assert.equal(requests('blog', UNMATCHED_ROUTE, '4xx'), 1, 'a 404 without a template: one route for every such path');
  const counts = (app: string): Record<string, number> => Object.fromEntries(durationCounts(samples, app).map((s) => [`${s.labels.method} ${s.labels.route}`, s.value]));
  assert.deepEqual(counts('shop'), { 'GET /cart': 3, 'GET /items/:id': 2 });
  assert.deepEqual(counts('blog'), { 'GET /posts': 1, 'GET /posts/:id': 3, [`GET ${UNMATCHED_ROUTE}`]: 1 });
  const inf = samples.find((s) => s.name === 'dragon_request_duration_seconds_bucket' && s.labels.route === '/cart' && s.labels.le === '+Inf');
  assert.equal(inf?.value, 3);
  // Per-app series with the label: none (the sum over routes is the app's figure).
  assert.ok(!samples.some((s) => s.name === 'dragon_requests_total' && !('route' in s.labels)));
});

for (const [kind, app] of [['two workers', { name: 'many', count: 2, threads: 4 }], ['in-process', inlineApp('many')]] as const) {
  test(`metrics.routeLabel keeps ${ROUTES_PER_APP} routes per app, the rest under the overflow route (${kind})`, async (t) => {
    const rt = await startMetricsSupervisor(t, [app], { routeLabel: true });
    const target = rt.targets.get('many')!;
    const extra = 15;
    const total = ROUTES_PER_APP + extra;
    for (let i = 0; i < total; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, total - i) }, (_, j) => scgiRequest(target, { uri: `/page-${i + j}` })));
    }
    const samples = await scrape(rt.base);
    const series = durationCounts(samples, 'many');
    const overflow = series.filter((s) => s.labels.method === OVERFLOW_ROUTE.method && s.labels.route === OVERFLOW_ROUTE.route);
    const named = series.filter((s) => s.labels.route !== OVERFLOW_ROUTE.route);
    assert.equal(named.length, ROUTES_PER_APP);
    assert.ok(named.every((s) => s.value >= 1 && /^\/page-\d+$/.test(s.labels.route!)));
    // Two workers may each keep routes the other does not: the merge bounds their union again.
    assert.equal(overflow.length, 1);
    assert.equal(named.reduce((n, s) => n + s.value, 0) + overflow[0]!.value, total, 'every request counted once');
    assert.ok(overflow[0]!.value >= extra);
  });
}
