/**
 * @module bench-store-row
 * What one timing row costs, split by stage and measured alone: packing on the main thread, the
 * postMessage that moves a batch to the writer thread, and the writer's transaction (its
 * JavaScript part, unpacking and rollup cells, timed apart from SQLite's). Same run, µs per row.
 * The supervisor's share: a ring read's frames (one per row) decoded into the store's batch.
 * Then what a route adds (issue 24's budget): the worker's routeOf and the writer's per-route
 * bound and rollups, as batches with a route against the same batches without, alternating.
 * Usage: node --import tsx scripts/bench-store-row.ts [batches]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openWritableDb } from '../shared/store/open-db.js';
import { Outcome, type TimingRow } from '../shared/timing-row.js';
import { BatchPacker, unpack, type PackedBatch } from '../server/store/packed-batch.js';
import { encodeFrame, FrameDecoder, RowFrameEncoder } from '../server/store/row-frames.js';
import { RowBuffer } from '../server/store/row-buffer.js';
import { DEFAULT_RETENTION } from '../server/store/retention.js';
import { routeOf } from '../server/host/route-fold.js';
import { aggregate } from '../server/store/rollup-delta.js';
import { SqliteWriter } from '../server/store/sqlite-writer.js';
import { STORE_DEFAULTS } from '../server/store/timing-store.js';

const BATCHES = Number(process.argv[2] ?? 200);
const ROWS = STORE_DEFAULTS.batchSize;

function row(i: number): TimingRow {
  return { app: 'hello', startMs: Date.now(), queueMs: 0.01, serviceMs: 0.05 + (i % 7) / 100, status: 200, outcome: Outcome.ANSWERED, bytesIn: 80, bytesOut: 140, method: 'GET', path: '/' };
}

/** Twenty routes, as an API's; each row one of them. */
const ROUTES = Array.from({ length: 20 }, (_, r) => `/api/v1/resource${r}/:id`);
function routedRow(i: number): TimingRow {
  return { ...row(i), path: `/api/v1/resource${i % 20}/${i}`, route: ROUTES[i % 20] as string };
}

function usPerRow(startMs: number, batches: number): string {
  return ((performance.now() - startMs) * 1000 / (batches * ROWS)).toFixed(3);
}

function pack(batches: number, shared = false): PackedBatch[] {
  const packer = new BatchPacker(ROWS, { recordPaths: true, maxPathLength: STORE_DEFAULTS.maxPathLength }, shared);
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

// postMessage to a thread that only counts, as the store moves batches (their numbers shared),
// against the same batches' numbers copied; each receiving side's work is the thread's own.
const counter = new Worker('require("node:worker_threads").parentPort.on("message", () => {});', { eval: true });
await new Promise((resolve) => counter.once('online', resolve));
const sharedBatches = pack(BATCHES, true);
const postEach = (list: PackedBatch[]): string => {
  const t = performance.now();
  for (const batch of list) counter.postMessage({ type: 'rows', batch });
  return usPerRow(t, list.length);
};
postEach(sharedBatches.slice(0, 10)); // warm-up
const postCopiedUs = postEach(batches.slice(0, BATCHES));
const postUs = postEach(sharedBatches);
await counter.terminate();

t0 = performance.now();
for (const batch of batches.slice(BATCHES, BATCHES * 2)) aggregate([...unpack(batch)]);
const jsUs = usPerRow(t0, BATCHES);

// The worker's share of a route: the template a framework matched, or the path folded.
const folds = ['/', '/api/health', '/items/42', '/users/7/orders/123e4567-e89b-12d3-a456-426614174000'];
let routeChars = 0;
t0 = performance.now();
for (let i = 0; i < BATCHES * ROWS; i++) routeChars += routeOf(i % 2 === 0 ? (ROUTES[i % 20] as string) : null, folds[i % 4] as string, 200).length;
const routeOfUs = usPerRow(t0, BATCHES);

const dir = mkdtempSync(join(tmpdir(), 'dow-store-row-'));
const db = openWritableDb(join(dir, 'timing.db'));
const writer = new SqliteWriter(db, DEFAULT_RETENTION, { startedMs: Date.now(), pid: process.pid });
t0 = performance.now();
for (const batch of batches.slice(BATCHES * 2)) writer.writeRows(batch);
const writeUs = usPerRow(t0, BATCHES);

// The same writer, batches alternating: plain rows, then the same rows with a route.
const routePacker = new BatchPacker(ROWS, { recordPaths: true, maxPathLength: STORE_DEFAULTS.maxPathLength });
let plainMs = 0;
let routedMs = 0;
for (let b = 0; b < BATCHES; b++) {
  for (const routed of [false, true]) {
    for (let i = 0; i < ROWS; i++) routePacker.push(routed ? routedRow(i) : { ...row(i), path: `/api/v1/resource${i % 20}/${i}` });
    const batch = routePacker.take();
    const t = performance.now();
    writer.writeRows(batch);
    if (routed) routedMs += performance.now() - t;
    else plainMs += performance.now() - t;
  }
}
const perRow = (ms: number): number => (ms * 1000) / (BATCHES * ROWS);
db.close();
rmSync(dir, { recursive: true, force: true });

// A worker with a row ring sends each row as it is recorded: the frame of a batch of one, against
// the single-row encoder it uses, alternating so that the machine's noise falls on both.
const frameRows = BATCHES * ROWS;
const frameOptions = { recordPaths: true, maxPathLength: STORE_DEFAULTS.maxPathLength };
let frameBytes = 0;
const asBatchOfOne = (): number => {
  const packer = new BatchPacker(1, frameOptions);
  const t = performance.now();
  for (let i = 0; i < frameRows; i++) {
    packer.push(row(i));
    frameBytes += encodeFrame(packer.take()).length;
  }
  return performance.now() - t;
};
const asSingleRow = (): number => {
  const encoder = new RowFrameEncoder(frameOptions);
  const t = performance.now();
  for (let i = 0; i < frameRows; i++) frameBytes += encoder.encode(row(i)).length;
  return performance.now() - t;
};
let batchOfOneMs = 0;
let singleRowMs = 0;
for (let round = 0; round < 4; round++) {
  batchOfOneMs += asBatchOfOne();
  singleRowMs += asSingleRow();
}
const frameUs = (ms: number): string => ((ms * 1000) / (4 * frameRows)).toFixed(3);

// The supervisor reads a worker's ring every 25 ms: at 15,000 requests a second, ~400 frames a read.
const FRAMES_PER_READ = 400;
const frameEncoder = new RowFrameEncoder(frameOptions);
const ringRead = Buffer.concat(Array.from({ length: FRAMES_PER_READ }, (_, i) => Buffer.from(frameEncoder.encode(routedRow(i)))));
const storeBuffer = new RowBuffer({ ...frameOptions, flushIntervalMs: STORE_DEFAULTS.flushIntervalMs, batchSize: ROWS, capacityRows: STORE_DEFAULTS.bufferRows, send: (b) => storeBuffer.settle(b.rows) });
const decoder = new FrameDecoder();
const reads = Math.ceil(frameRows / FRAMES_PER_READ);
const decodeReads = (): number => {
  const t = performance.now();
  for (let r = 0; r < reads; r++) for (const batch of decoder.push(ringRead)) storeBuffer.pushBatch(batch);
  return performance.now() - t;
};
decodeReads(); // warm-up
const decodeUs = ((decodeReads() * 1000) / (reads * FRAMES_PER_READ)).toFixed(3);

console.log(`| stage (${BATCHES} batches of ${ROWS} rows) | µs per row |`);
console.log('| --- | ---: |');
console.log(`| main thread: pack the row (BatchPacker.push, take) | ${packUs} |`);
console.log(`| main thread: postMessage of the batch, its numbers copied | ${postCopiedUs} |`);
console.log(`| main thread: postMessage of the batch, its numbers shared (what the store does) | ${postUs} |`);
console.log(`| writer: its transaction in all (writeRows) | ${writeUs} |`);
console.log(`| of which JavaScript: unpack and rollup cells | ${jsUs} |`);
console.log(`| worker with a ring, a frame per row: as a batch of one (BatchPacker, encodeFrame) | ${frameUs(batchOfOneMs)} |`);
console.log(`| worker with a ring, a frame per row: RowFrameEncoder (what it uses) | ${frameUs(singleRowMs)} |`);
console.log(`| supervisor: a ring read's frames into the store's batch (FrameDecoder.push, RowBuffer.pushBatch) | ${decodeUs} |`);
console.log(`| worker: routeOf per request (a template, or the path folded) | ${routeOfUs} |`);
console.log(`| writer: writeRows, rows without a route | ${perRow(plainMs).toFixed(3)} |`);
console.log(`| writer: writeRows, the same rows with one of 20 routes | ${perRow(routedMs).toFixed(3)} |`);
console.log(`| what a route adds per request (routeOf + the writer's difference) | ${(Number(routeOfUs) + perRow(routedMs) - perRow(plainMs)).toFixed(3)} |`);
if (frameBytes === 0 || routeChars === 0) throw new Error('nothing encoded');
