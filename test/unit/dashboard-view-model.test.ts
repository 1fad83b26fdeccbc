/**
 * The payload builders shared by the JSON routes and the event stream.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { buildApps, buildOverview } from '../../dashboard/view-model.js';
import type { HistoryReader } from '../../shared/history.js';
import { fakeApp } from '../browser/fake-runtime.js';

const p = { p50: 1, p95: 2, p99: 3 };
const history: HistoryReader = {
  series: () => { throw new Error('unused'); },
  summary: (app, fromMs, toMs) => ({ app, fromMs, toMs, count: 600, errorRate: 0, reqPerS: 2, recordedMs: 300_000, runs: 2, rejected: 0, timeouts: 0, aborted: 0, service: p, queue: p }),
  audit: () => [],
  events: () => [],
  routes: () => [],
  slowest: () => [],
  routeSeries: () => { throw new Error('unused'); },
  close() {},
};
const state = (uptimeS: number) => ({
  reachable: true,
  error: null,
  checkedAtMs: 0,
  snapshot: { version: '2.0.0', pid: 1, startTimeMs: 0, uptimeS, requests: 600, online: 0, apps: [fakeApp('shop')] },
});

it('req/s is the store\'s rate over the time it recorded, not over this process\'s uptime', () => {
  // A restart over an earlier run's rows: 600 requests, this process up 0-60 s. Dividing by the
  // uptime gave 600 and 10 req/s; the reader knows the runs and their spans (store-instances test).
  for (const uptime of [0, 60, 3600]) assert.equal(buildApps(state(uptime), history, 1e12).apps[0]?.recent?.reqPerS, 2);
  assert.equal(buildApps(state(0), history, 1e12).apps[0]?.recent?.runs, 2);
});

it('the overview formats uptime like the stats port and is all null when unreachable', () => {
  assert.equal(buildOverview(state(93_784), true).uptimeStr, '1d 02h 03m 04s');
  const down = buildOverview({ reachable: false, error: 'x', checkedAtMs: 5, snapshot: null }, false);
  assert.deepEqual(down, {
    reachable: false, error: 'x', checkedAtMs: 5, version: null, pid: null, startTimeMs: null, uptimeS: null, uptimeStr: null,
    requests: null, online: null, appCount: null, history: false,
  });
});
