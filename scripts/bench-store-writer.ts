/**
 * @module bench-store-writer
 * Event-loop delay while recording ~20k rows/s: recording off (baseline), the timing store (worker
 * thread), and for contrast batches written on the main thread. Same run, ratios to the baseline.
 * Usage: node --import tsx scripts/bench-store-writer.ts [seconds-per-phase] [rows-per-s]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { openWritableDb } from '../shared/store/open-db.js';
import { Outcome, type TimingRow } from '../shared/timing-row.js';
import { RowBuffer } from '../server/store/row-buffer.js';
import { createTimingStore } from '../server/store/timing-store.js';

const PHASE_S = Number(process.argv[2] ?? 5);
const RATE = Number(process.argv[3] ?? 20_000);
const TICK_MS = 5;

interface Phase {
  name: string;
  record(row: TimingRow): void;
  stop(): Promise<string>;
}

async function run(phase: Phase): Promise<{ p50: number; p99: number; max: number; rows: number; note: string }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let emitted = 0;
  const start = performance.now();
  h.enable();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.floor((elapsed / 1000) * RATE);
      for (; emitted < due; emitted++) {
        phase.record({
          app: emitted % 3 ? 'shop' : 'blog', startMs: Date.now(), queueMs: Math.random(), serviceMs: 5 + Math.random() * 20,
          status: 200, outcome: Outcome.ANSWERED, bytesIn: 300, bytesOut: 5000, method: 'GET', path: `/items/${emitted % 1000}`,
        });
      }
      if (elapsed >= PHASE_S * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  h.disable();
  const note = await phase.stop();
  const ms = (ns: number) => ns / 1e6;
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rows: emitted, note };
}

const dir = mkdtempSync(join(tmpdir(), 'dow-bench-writer-'));
try {
  const results = [];
  results.push({ name: 'recording off (baseline)', ...(await run({ name: 'off', record() {}, stop: async () => '' })) });
  await sleep(200);

  const store = createTimingStore({ path: join(dir, 'worker.db') });
  await store.latestLimits(); // the worker is up and the file open: start-up is not measured
  results.push({
    name: 'timing store (worker thread)',
    ...(await run({
      name: 'store', record: (r) => store.record(r),
      async stop() {
        await store.close();
        const f = store.figures();
        return `written ${f.rows}, dropped ${f.dropped}, errors ${f.errors}`;
      },
    })),
  });
  await sleep(200);

  // Contrast: the same batches written on the main thread, SQLite's automatic checkpoints on.
  const db = openWritableDb(join(dir, 'main-thread.db'));
  const insert = db.prepare('INSERT INTO requests (app, start_ms, queue_ms, service_ms, status, outcome, bytes_in, bytes_out, method, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  let batch: TimingRow[] = [];
  const writeBatch = db.transaction((rows: TimingRow[]) => {
    for (const r of rows) insert.run(r.app, r.startMs, r.queueMs, r.serviceMs, r.status, r.outcome, r.bytesIn, r.bytesOut, r.method, r.path);
  });
  const flusher = setInterval(() => {
    writeBatch(batch);
    batch = [];
  }, 200);
  results.push({
    name: 'same batches on the main thread',
    ...(await run({
      name: 'inline', record: (r) => batch.push(r),
      async stop() {
        clearInterval(flusher);
        writeBatch(batch);
        db.close();
        return '';
      },
    })),
  });

  // Micro-benchmark of the hot path alone: what record() costs the request path per row.
  const buffer = new RowBuffer({ flushIntervalMs: 200, batchSize: 1000, capacityRows: 50_000, recordPaths: true, maxPathLength: 200, send: (b) => buffer.settle(b.rows) });
  const N = 1_000_000;
  const rows: TimingRow[] = Array.from({ length: 1000 }, (_, i) => ({ app: i % 3 ? 'shop' : 'blog', startMs: Date.now(), queueMs: 0.5, serviceMs: 12.5, status: 200, outcome: Outcome.ANSWERED, bytesIn: 300, bytesOut: 5000, method: 'GET', path: `/items/${i}?q=1` }));
  for (let i = 0; i < N; i++) buffer.push(rows[i % 1000]!);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) buffer.push(rows[i % 1000]!);
  const nsPerRow = ((performance.now() - t0) * 1e6) / N;
  buffer.flush();

  const base = results[0]!;
  console.log(`${RATE} rows/s for ${PHASE_S} s per phase, monitorEventLoopDelay resolution 1 ms.\n`);
  console.log('| phase | rows | loop delay p50 ms | p99 ms | max ms | p99 vs baseline | note |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.rows} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} | ${(r.p99 / base.p99).toFixed(2)} | ${r.note} |`);
  }
  console.log(`\nrecord() on the main thread (pack into the buffer, batch hand-over included): ${nsPerRow.toFixed(0)} ns/row.`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
