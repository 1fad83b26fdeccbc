/**
 * @module bench-routes-query
 * Times the routes table's query (every route's percentiles over a window, merged from
 * route_rollups) with ROUTES_PER_APP routes busy in every bucket, against the per-app summary
 * over the same window, in the same run. Prints markdown.
 * Usage: node --import tsx scripts/bench-routes-query.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyHistogram } from '../shared/histogram.js';
import { WINDOWS_MS, type WindowName } from '../shared/history.js';
import { openHistoryReader } from '../shared/store/history-reader.js';
import { openWritableDb } from '../shared/store/open-db.js';
import { coverRouteWindow } from '../shared/store/rollup-cover.js';
import { ROUTES_PER_APP } from '../shared/store/schema.js';
import { seedRollups } from './seed-rollups.js';

const RUNS = 10;

function time(fn: () => unknown): { median: number; max: number } {
  fn();
  const ms: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, max: ms.at(-1)! };
}

const dir = mkdtempSync(join(tmpdir(), 'dow-bench-routes-'));
try {
  const path = join(dir, 'seeded.db');
  const now = Date.now();
  seedRollups(path, { days: 7, ratePerS: 1000, endMs: now });
  const db = openWritableDb(path);
  const put = db.prepare('INSERT OR REPLACE INTO route_rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  // Every bucket each window's cover reads, each with every route: the worst case.
  const hist = new LatencyHistogram();
  for (let i = 0; i < 200; i++) hist.record(500 + i * 37);
  const blob = hist.encode();
  let cells = 0;
  db.transaction(() => {
    for (const name of Object.keys(WINDOWS_MS) as WindowName[]) {
    for (const range of coverRouteWindow(now - WINDOWS_MS[name], now)) {
      for (let b = range.loMs; b < range.hiMs; b += range.resMs) {
        for (let r = 0; r < ROUTES_PER_APP; r++) put.run('shop', range.resMs, b, 'GET', `/route/${r}/:id`, 200, 1, 200, 2000, blob), cells++;
      }
    }
    }
  })();
  db.close();
  const reader = openHistoryReader(path);
  console.log(`${ROUTES_PER_APP} routes busy in every bucket (${cells} route rollup rows); median / max of ${RUNS} runs\n`);
  console.log('| window | routes (all routes) | summary (per app) |');
  console.log('|---|---|---|');
  for (const name of Object.keys(WINDOWS_MS) as WindowName[]) {
    const from = now - WINDOWS_MS[name];
    const routes = time(() => reader.routes('shop', from, now));
    const summary = time(() => reader.summary('shop', from, now));
    console.log(`| ${name} | ${routes.median.toFixed(1)} / ${routes.max.toFixed(1)} ms | ${summary.median.toFixed(2)} / ${summary.max.toFixed(2)} ms |`);
  }
  reader.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
