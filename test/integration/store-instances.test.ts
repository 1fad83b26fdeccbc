/**
 * The dashboard's req/s after a restart. The bug: with the same database and no
 * traffic, a card showed 2,825 req/s beside `requests 0`, because the last 5 minutes of rows (the
 * previous run's) were divided by the new process's uptime. Real writer thread, real SQLite, the
 * real history reader and view model: each run is recorded, each raw row names its run, and the
 * rate is over the time the store was recording.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { buildApps } from '../../dashboard/view-model.js';
import { createTimingStore } from '../../server/store/timing-store.js';
import { openHistoryReader } from '../../shared/store/history-reader.js';
import { Outcome } from '../../shared/timing-row.js';
import { fakeApp } from '../browser/fake-runtime.js';
import { testDirSync } from '../helpers/temp-dir.js';

function tempDb(t: TestContext): string {
  return join(testDirSync(t, 'instances'), 'timings.db');
}

async function run(path: string, startedMs: number, pid: number, rowTimes: number[]): Promise<void> {
  const store = createTimingStore({ path, flushIntervalMs: 20, instance: { startedMs, pid } });
  for (const startMs of rowTimes) {
    store.record({ app: 'shop', startMs, queueMs: 0, serviceMs: 2, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 10, method: 'GET', path: '/' });
  }
  await store.close();
}

/** What the card shows for an app, with this process up `uptimeS`. */
function cardRate(path: string, nowMs: number, uptimeS: number): { reqPerS: number; count: number; runs: number | null; recordedMs: number | null } {
  const reader = openHistoryReader(path);
  try {
    const state = { reachable: true, error: null, checkedAtMs: nowMs, snapshot: { version: 'x', pid: 2, startTimeMs: nowMs - uptimeS * 1000, uptimeS, requests: 0, online: 0, apps: [fakeApp('shop')] } };
    const recent = buildApps(state, reader, nowMs).apps[0]?.recent;
    assert.ok(recent);
    return { reqPerS: recent.reqPerS, count: recent.count, runs: recent.runs, recordedMs: recent.recordedMs };
  } finally {
    reader.close();
  }
}

test('after a restart with no traffic, req/s is the earlier run\'s rate over its recorded time, not its rows over the new uptime', async (t) => {
  const path = tempDb(t);
  const now = Date.now();
  // Run 1: started 200 s ago, 1,000 requests spread over its life, stopped just now.
  await run(path, now - 200_000, 1111, Array.from({ length: 1000 }, (_v, i) => now - 200_000 + i * 200));
  // Run 2: started now, serves nothing (the card's "requests 0").
  await run(path, Date.now(), 2222, []);
  const later = Date.now() + 2_000; // the card is looked at 2 s into the new run
  const card = cardRate(path, later, 2);
  assert.equal(card.count, 1000);
  assert.equal(card.runs, 2, 'two runs recorded in the window');
  // Run 1 lived 200 s plus its own opening and closing, run 2 up to 2 s more: at most everything
  // since run 1's start (opening and closing stores took 5 s once on a machine at load 11).
  const mostMs = later - (now - 200_000);
  assert.ok(card.recordedMs !== null && card.recordedMs >= 200_000 && card.recordedMs <= mostMs, `recorded ${card.recordedMs} ms, expected 200,000 to ${mostMs}`);
  // 1,000 over ~200 s, where the old card said 1,000 / 2 s = 500 req/s.
  assert.ok(card.reqPerS >= 1000 / (mostMs / 1000) - 0.01 && card.reqPerS <= 5.01, `req/s ${card.reqPerS}`);

  // Each raw row names its run, and the runs say who and when.
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const runs = db.prepare('SELECT id, pid, started_ms, stopped FROM instances ORDER BY id').all() as Array<{ id: number; pid: number; started_ms: number; stopped: number }>;
  assert.deepEqual(runs.map((r) => [r.pid, r.stopped]), [[1111, 1], [2222, 1]]);
  assert.equal(runs[0]?.started_ms, now - 200_000);
  const byRun = db.prepare('SELECT instance_id AS id, count(*) AS n FROM requests GROUP BY instance_id').all();
  assert.deepEqual(byRun, [{ id: runs[0]?.id, n: 1000 }]);
});

test('a run younger than the window: the rate is over its life, not the 5 minutes', async (t) => {
  const path = tempDb(t);
  const now = Date.now();
  await run(path, now - 30_000, 3333, Array.from({ length: 300 }, (_v, i) => now - 30_000 + i * 100));
  const card = cardRate(path, now, 30);
  assert.equal(card.runs, 1);
  assert.ok(card.reqPerS > 9.5 && card.reqPerS < 10.5, `req/s ${card.reqPerS} (300 over 30 s)`);
});

test('a gap between runs is not counted as recorded time', async (t) => {
  const path = tempDb(t);
  const now = Date.now();
  const store = createTimingStore({ path, flushIntervalMs: 20, instance: { startedMs: now - 250_000, pid: 1 } });
  await store.close();
  // Pretend that run stopped 150 s ago (it had been up 100 s), then a run of 60 s until now.
  const db = new Database(path);
  db.prepare('UPDATE instances SET seen_ms = ?').run(now - 150_000);
  db.close();
  await run(path, now - 60_000, 2, Array.from({ length: 800 }, (_v, i) => now - 250_000 + i * 300));
  const card = cardRate(path, now, 60);
  // Window [now-300 s, now): run 1 recorded 100 s of it, run 2 60 s (it stopped at close, ~now).
  assert.ok(card.recordedMs !== null && Math.abs(card.recordedMs - 160_000) < 3_000, `recorded ${card.recordedMs} ms`);
  assert.ok(Math.abs(card.reqPerS - 800 / 160) < 0.2, `req/s ${card.reqPerS}`);
});
