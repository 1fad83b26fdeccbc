/**
 * @module bench-store-query
 * Times the dashboard's percentile queries over seeded rollups (15 min to 7 days at 1000 req/s)
 * against the baseline of sorting 15 minutes of raw rows, in the same run. Prints markdown.
 * Usage: node --import tsx scripts/bench-store-query.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WINDOWS_MS, type WindowName } from '../shared/history.js';
import { openHistoryReader } from '../shared/store/history-reader.js';
import { openWritableDb } from '../shared/store/open-db.js';
import { seedRollups } from './seed-rollups.js';

const RUNS = 20;
const RATE_PER_S = 1000;

function time(fn: () => unknown, runs = RUNS): { median: number; max: number } {
  fn(); // warm the page cache and the prepared statements
  const ms: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, max: ms.at(-1)! };
}

const dir = mkdtempSync(join(tmpdir(), 'dow-bench-query-'));
try {
  const path = join(dir, 'seeded.db');
  const now = Date.now();
  const t0 = performance.now();
  const rows = seedRollups(path, { days: 7, ratePerS: RATE_PER_S, endMs: now });
  const seedS = (performance.now() - t0) / 1000;

  // Baseline: 15 minutes of raw rows at the same rate, percentiles by sorting.
  const db = openWritableDb(path);
  const insert = db.prepare("INSERT INTO requests (app, start_ms, queue_ms, service_ms, status, outcome, bytes_in, bytes_out, method, path) VALUES ('shop', ?, 0, ?, 200, 0, 0, 0, 'GET', '/')");
  const rawRows = (WINDOWS_MS['15m'] / 1000) * RATE_PER_S;
  db.transaction(() => {
    for (let i = 0; i < rawRows; i++) insert.run(now - WINDOWS_MS['15m'] + i, 14 * Math.exp(0.8 * (Math.random() + Math.random() + Math.random() - 1.5)));
  })();
  const p99 = db.prepare("SELECT service_ms FROM requests WHERE app = 'shop' AND start_ms >= ? ORDER BY service_ms LIMIT 1 OFFSET ?");
  const sortRaw = time(() => p99.get(now - WINDOWS_MS['15m'], Math.floor(rawRows * 0.99)), 5);
  db.close();

  const reader = openHistoryReader(path);
  console.log(`Seeded ${rows} rollup rows (7 days, ${RATE_PER_S} req/s, 10 s / 1 min / 1 h) in ${seedS.toFixed(1)} s.\n`);
  console.log('| window | summary p50/p95/p99, median (max) ms | series, median (max) ms | points | vs sorting 15 min of raw rows |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const name of Object.keys(WINDOWS_MS) as WindowName[]) {
    const from = now - WINDOWS_MS[name];
    const s = time(() => reader.summary('shop', from, now));
    const series = time(() => reader.series('shop', from, now));
    const points = reader.series('shop', from, now).points.length;
    const count = reader.summary('shop', from, now).count;
    console.log(`| ${name} (${(count / 1e6).toFixed(1)} M req) | ${s.median.toFixed(2)} (${s.max.toFixed(2)}) | ${series.median.toFixed(2)} (${series.max.toFixed(2)}) | ${points} | ${(sortRaw.median / s.median).toFixed(0)}x faster |`);
  }
  console.log(`\nBaseline: p99 of 15 min of raw rows (${rawRows / 1000}k rows) by ORDER BY: median ${sortRaw.median.toFixed(0)} ms (max ${sortRaw.max.toFixed(0)}).`);
  reader.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
