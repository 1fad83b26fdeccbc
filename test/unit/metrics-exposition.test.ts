// The pure parts of the metrics listener: the text formats, Accept negotiation, the exact mapping
// of the live histogram onto Prometheus buckets, status classes and the readiness verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppStats, statusClass } from '../../server/host/app-stats.js';
import { formatFamilies, negotiateFormat, type Family } from '../../server/metrics/exposition.js';
import { assessReadiness } from '../../server/metrics/health.js';
import { histogramSample, LATENCY_BOUNDS_US } from '../../server/metrics/latency-buckets.js';
import { isBucketEdge, LatencyHistogram } from '../../shared/histogram.js';

const families: Family[] = [
  { name: 'x_requests', help: 'Requests.\nSecond line \\ here.', type: 'counter', samples: [{ labels: { app: 'a"b\\c\nd', code: '2xx' }, value: 3 }] },
  { name: 'x_load', help: 'Load.', type: 'gauge', samples: [{ labels: {}, value: 0.25 }, { labels: { app: 'z' }, value: NaN }] },
  { name: 'x_build', help: 'Version.', type: 'info', samples: [{ labels: { version: '2.0.0' }, value: 1 }] },
  { name: 'x_seconds', help: 'Latency.', type: 'histogram', samples: [{ labels: { app: 'a' }, buckets: [[0.00512, 1], [1.024, 2]], count: 3, sum: 2.5 }] },
];

test('Prometheus 0.0.4: counters and info named as their samples, escapes, histogram series', () => {
  assert.equal(formatFamilies(families, 'prometheus'), [
    '# HELP x_requests_total Requests.\\nSecond line \\\\ here.',
    '# TYPE x_requests_total counter',
    'x_requests_total{app="a\\"b\\\\c\\nd",code="2xx"} 3',
    '# HELP x_load Load.',
    '# TYPE x_load gauge',
    'x_load 0.25',
    'x_load{app="z"} NaN',
    '# HELP x_build_info Version.',
    '# TYPE x_build_info gauge',
    'x_build_info{version="2.0.0"} 1',
    '# HELP x_seconds Latency.',
    '# TYPE x_seconds histogram',
    'x_seconds_bucket{app="a",le="0.00512"} 1',
    'x_seconds_bucket{app="a",le="1.024"} 2',
    'x_seconds_bucket{app="a",le="+Inf"} 3',
    'x_seconds_count{app="a"} 3',
    'x_seconds_sum{app="a"} 2.5',
    '',
  ].join('\n'));
});

test('OpenMetrics: TYPE names the family, counters get _total and info _info on the samples', () => {
  const text = formatFamilies(families, 'openmetrics');
  assert.match(text, /^# TYPE x_requests counter\nx_requests_total\{/m);
  assert.match(text, /^# TYPE x_build info\nx_build_info\{version="2.0.0"\} 1$/m);
  assert.match(text, /^# TYPE x_seconds histogram$/m);
});

test('Accept: OpenMetrics only when listed with a non-zero quality', () => {
  const prometheusAccept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  assert.equal(negotiateFormat(prometheusAccept), 'openmetrics');
  assert.equal(negotiateFormat('Application/OpenMetrics-Text'), 'openmetrics');
  assert.equal(negotiateFormat('application/openmetrics-text;q=0, text/plain'), 'prometheus');
  assert.equal(negotiateFormat('text/plain'), 'prometheus');
  assert.equal(negotiateFormat('*/*'), 'prometheus');
  assert.equal(negotiateFormat(undefined), 'prometheus');
});

test('every latency bound is a bucket edge; non-edges are refused', () => {
  for (const us of LATENCY_BOUNDS_US) assert.ok(isBucketEdge(us), `${us}`);
  for (const us of [5000, 10_000, 2_500_000, 2_560_000, 129, -1, 1.5]) assert.equal(isBucketEdge(us), false, `${us}`);
  assert.throws(() => new LatencyHistogram().countsBelow([5000]), RangeError);
});

test('the Prometheus buckets are exact: each counts the recorded values below its bound (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 70_000_000 }), fc.constantFrom(...LATENCY_BOUNDS_US), fc.constantFrom(...LATENCY_BOUNDS_US.map((b) => b - 1))), { maxLength: 300 }), (values) => {
      const h = new LatencyHistogram();
      for (const v of values) h.record(v);
      const sample = histogramSample({ app: 'a' }, h);
      sample.buckets.forEach(([le, count], i) => {
        const boundUs = LATENCY_BOUNDS_US[i]!;
        assert.equal(le, boundUs / 1e6);
        assert.equal(count, values.filter((v) => v < boundUs).length, `le=${le}`);
      });
      assert.equal(sample.count, values.length);
      assert.equal(sample.sum, values.reduce((a, b) => a + b, 0) / 1e6);
    }),
    { numRuns: 300 },
  );
});

test('status classes: 1xx..5xx, statuses past 599 count as 5xx, and they sum to the requests across a merge', () => {
  assert.deepEqual([100, 199, 200, 304, 404, 499, 500, 599, 600, 999, 0].map(statusClass), [0, 0, 1, 2, 3, 3, 4, 4, 4, 4, 0]);
  const a = new AppStats();
  const b = new AppStats();
  for (const s of [200, 201, 404, 503, 700]) a.record(1, 0, s);
  for (const s of [302, 500]) b.record(2, 3, s);
  a.merge(b.toData());
  assert.deepEqual(a.statusClasses, [0, 2, 1, 1, 3]);
  assert.equal(a.statusClasses.reduce((x, y) => x + y, 0), a.requests);
  assert.equal(a.queueWaits.count, 7);
  assert.equal(a.queueWaits.max, 3000);
});

test('a malformed worker message changes nothing (classes checked before the histograms merge)', () => {
  const a = new AppStats();
  a.record(1, 0, 200);
  const bad = { ...new AppStats().toData(), requests: 1, statusClasses: [1, 2] };
  assert.throws(() => a.merge(bad), { code: 'DOW_ERR_WORKER_FIGURES' });
  assert.equal(a.requests, 1);
  assert.equal(a.durations.count, 1);
});

test('readiness: ready, or 503 reasons naming each app without a ready worker, the store and a stop', () => {
  const app = (name: string, readyWorkers: number, extra: Partial<{ inProcess: boolean; workers: number; backoffMs: number }> = {}) =>
    ({ name, inProcess: false, readyWorkers, workers: 1, backoffMs: 0, ...extra });
  assert.deepEqual(assessReadiness({ stopping: false, apps: [app('a', 1), app('b', 0, { inProcess: true, workers: 0 })], store: { writable: true, reason: '' } }), {
    ready: true, reasons: [], apps: { a: { ready: true, readyWorkers: 1 }, b: { ready: true, readyWorkers: null } }, store: 'writable',
  });
  const r = assessReadiness({
    stopping: true,
    apps: [app('a', 0, { workers: 2 }), app('c', 0, { workers: 0, backoffMs: 4100 }), app('d', 0, { workers: 0 })],
    store: { writable: false, reason: 'writes failing (open SQLITE_CANTOPEN: x)' },
  });
  assert.equal(r.ready, false);
  assert.deepEqual(r.reasons, [
    'the server is stopping',
    'a: no ready worker (2 workers not answering heartbeats)',
    'c: no ready worker (crash loop, next worker in 5 s)',
    'd: no ready worker (no worker running)',
    'timing store: writes failing (open SQLITE_CANTOPEN: x)',
  ]);
  assert.equal(r.store, 'failing');
  assert.equal(assessReadiness({ stopping: false, apps: [], store: null }).store, 'off');
});
