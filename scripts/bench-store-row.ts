/**
 * @module bench-store-row
 * What one timing row costs, split by stage and measured alone: packing on the main thread, the
 * postMessage that moves a batch to the writer thread, and the writer's transaction (its
 * JavaScript part, unpacking and rollup cells, timed apart from SQLite's). Same run, µs per row.
 * Usage: node --import tsx scripts/bench-store-row.ts [batches]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openWritableDb } from '../shared/store/open-db.js';
import { Outcome, type TimingRow } from '../shared/timing-row.js';
import { BatchPacker, unpack, type PackedBatch } from '../server/store/packed-batch.js';
import { DEFAULT_RETENTION } from '../server/store/retention.js';
import { aggregate } from '../server/store/rollup-delta.js';
import { SqliteWriter } from '../server/store/sqlite-writer.js';
import { STORE_DEFAULTS } from '../server/store/timing-store.js';

const BATCHES = Number(process.argv[2] ?? 200);
const ROWS = STORE_DEFAULTS.batchSize;

function row(i: number): TimingRow {
  return { app: 'hello', startMs: Date.now(), queueMs: 0.01, serviceMs: 0.05 + (i % 7) / 100, status: 200, outcome: Outcome.ANSWERED, bytesIn: 80, bytesOut: 140, method: 'GET', path: '/' };
}

function usPerRow(startMs: number, batches: number): string {
  return ((performance.now() - startMs) * 1000 / (batches * ROWS)).toFixed(3);
}

function pack(batches: number): PackedBatch[] {
  const packer = new BatchPacker(ROWS, { recordPaths: true, maxPathLength: STORE_DEFAULTS.maxPathLength });
  const out: PackedBatch[] = [];
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < ROWS; i++) packer.push(row(i));
    out.push(packer.take());
  }
  return out;
}

pack(20); // warm-up
let t0 = performance.now();
const batches = pack(BATCHES * 3);
const packUs = usPerRow(t0, BATCHES * 3);

// postMessage to a thread that only counts, as the store moves batches (the array transferred).
const counter = new Worker('require("node:worker_threads").parentPort.on("message", () => {});', { eval: true });
await new Promise((resolve) => counter.once('online', resolve));
t0 = performance.now();
for (const batch of batches.slice(0, BATCHES)) counter.postMessage({ type: 'rows', batch }, [batch.nums.buffer as ArrayBuffer]);
const postUs = usPerRow(t0, BATCHES);
await counter.terminate();

t0 = performance.now();
for (const batch of batches.slice(BATCHES, BATCHES * 2)) aggregate([...unpack(batch)]);
const jsUs = usPerRow(t0, BATCHES);

const dir = mkdtempSync(join(tmpdir(), 'dow-store-row-'));
const db = openWritableDb(join(dir, 'timing.db'));
const writer = new SqliteWriter(db, DEFAULT_RETENTION, { startedMs: Date.now(), pid: process.pid });
t0 = performance.now();
for (const batch of batches.slice(BATCHES * 2)) writer.writeRows(batch);
const writeUs = usPerRow(t0, BATCHES);
db.close();
rmSync(dir, { recursive: true, force: true });

console.log(`| stage (${BATCHES} batches of ${ROWS} rows) | µs per row |`);
console.log('| --- | ---: |');
console.log(`| main thread: pack the row (BatchPacker.push, take) | ${packUs} |`);
console.log(`| main thread: postMessage of the batch (array transferred) | ${postUs} |`);
console.log(`| writer: its transaction in all (writeRows) | ${writeUs} |`);
console.log(`| of which JavaScript: unpack and rollup cells | ${jsUs} |`);
