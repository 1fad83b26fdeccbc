// The main-thread batching of the timing store: flush timer, batch size, bound and drops.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Outcome, type TimingRow } from '../../shared/timing-row.js';
import { cleanPath, isPackedBatch, unpack, type PackedBatch } from '../../server/store/packed-batch.js';
import { RowBuffer } from '../../server/store/row-buffer.js';
import { createRateLimitedLog } from '../../server/store/rate-limited-log.js';

function row(i: number, path: string | null = `/p/${i}`): TimingRow {
  return { app: i % 2 ? 'a' : 'b', startMs: 1000 + i, queueMs: i / 10, serviceMs: i, status: 200, outcome: Outcome.ANSWERED, bytesIn: i, bytesOut: 2 * i, method: 'GET', path, route: i % 3 ? `/p/:id` : null };
}

function setup(overrides: Partial<ConstructorParameters<typeof RowBuffer>[0]> = {}) {
  const sent: PackedBatch[] = [];
  const buffer = new RowBuffer({
    flushIntervalMs: 200, batchSize: 10, capacityRows: 100, recordPaths: true, maxPathLength: 200,
    send: (b) => sent.push(b),
    ...overrides,
  });
  return { buffer, sent };
}

test('the flush timer starts at the first row and fires once', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { buffer, sent } = setup();
  buffer.push(row(1));
  mock.timers.tick(150);
  buffer.push(row(2));
  assert.equal(sent.length, 0);
  mock.timers.tick(50);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.rows, 2);
  mock.timers.tick(1000);
  assert.equal(sent.length, 1, 'no empty batches');
});

test('a full batch is sent at once and cancels the timer', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { buffer, sent } = setup();
  for (let i = 0; i < 25; i++) buffer.push(row(i));
  assert.deepEqual(sent.map((b) => b.rows), [10, 10]);
  mock.timers.tick(200);
  assert.deepEqual(sent.map((b) => b.rows), [10, 10, 5]);
});

test('rows round-trip through the packed form, paths cleaned', () => {
  const { buffer, sent } = setup({ maxPathLength: 5 });
  const rows = [row(1), row(2, null), row(3, '/abcdefgh?q=1'), row(4, '/x?secret')];
  for (const r of rows) buffer.push(r);
  buffer.flush();
  const back = [...unpack(sent[0]!)];
  assert.deepEqual(back, rows.map((r) => ({ ...r, path: cleanPath(r.path, 5) })));
  assert.deepEqual(back.map((r) => r.path), ['/p/1', null, '/abcd', '/x']);
});

test('recordPaths: false stores no path at all', () => {
  const { buffer, sent } = setup({ recordPaths: false });
  buffer.push(row(1));
  buffer.flush();
  assert.equal([...unpack(sent[0]!)][0]!.path, null);
});

test('buffered plus in-flight rows are bounded; the excess is dropped and counted', () => {
  const { buffer, sent } = setup({ capacityRows: 25 });
  let accepted = 0;
  for (let i = 0; i < 40; i++) if (buffer.push(row(i))) accepted++;
  assert.equal(accepted, 25);
  assert.equal(buffer.dropped, 15);
  assert.equal(buffer.pending, 20);
  assert.equal(buffer.buffered, 5);
  buffer.settle(sent[0]!.rows); // the writer caught up on one batch
  for (let i = 0; i < 12; i++) buffer.push(row(i));
  assert.equal(buffer.dropped, 17);
  assert.equal(buffer.loseInFlight(), 20);
  assert.equal(buffer.dropped, 37);
});

test('the rate-limited log writes one line per reason per interval and counts the rest', () => {
  let now = 0;
  const lines: Array<[string, object]> = [];
  const logger = { warn: (o: object, m?: string) => lines.push([m ?? '', o]), error() {}, info() {} };
  const log = createRateLimitedLog(logger, 10_000, () => now);
  assert.equal(log('warn', 'open ENOTDIR', 'x'), true);
  assert.equal(log('warn', 'open ENOTDIR', 'x'), false);
  assert.equal(log('warn', 'write SQLITE_BUSY', 'y'), true);
  now = 9_999;
  log('warn', 'open ENOTDIR', 'x');
  now = 10_000;
  log('warn', 'open ENOTDIR', 'x');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[2]![1], { reason: 'open ENOTDIR', suppressed: 2 });
});

test('small batches from worker processes are gathered into one, whole rows across a full batch, within the same bound', (t) => {
  // Workers send a few rows per event-loop turn: one SQLite transaction per message cost ~150 µs a request.
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { buffer: workerSide, sent: fromWorker } = setup({ batchSize: 3 });
  for (let i = 0; i < 12; i++) workerSide.push(i === 4 ? row(i, null) : row(i));
  assert.equal(fromWorker.length, 4);
  assert.ok(fromWorker.every(isPackedBatch));
  const { buffer, sent } = setup({ batchSize: 10, capacityRows: 14 });
  assert.equal(buffer.pushBatch(fromWorker[0]!), true);
  assert.equal(buffer.pushBatch(fromWorker[1]!), true);
  assert.equal(sent.length, 0, 'held for the flush timer');
  assert.equal(buffer.pushBatch(fromWorker[2]!), true);
  assert.equal(buffer.pushBatch(fromWorker[3]!), true);
  // 10 rows went as one batch at the tenth; 2 wait for the timer.
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.rows, 10);
  mock.timers.tick(200);
  assert.equal(sent.length, 2);
  const rows = sent.flatMap((b) => [...unpack(b)]);
  assert.deepEqual(rows, Array.from({ length: 12 }, (_, i) => (i === 4 ? row(i, null) : row(i))));
  // 12 rows in flight: another 3 would pass the bound of 14.
  assert.equal(buffer.pushBatch(fromWorker[0]!), false);
  assert.equal(buffer.dropped, 3);
  buffer.settle(12);
  assert.equal(buffer.pushBatch(fromWorker[0]!), true);
  const batch = fromWorker[0]!;
  for (const bad of [null, {}, { ...batch, rows: 4 }, { ...batch, nums: [1, 2] }, { ...batch, dict: [1] }, { ...batch, paths: null }, { ...batch, rows: -1 }]) {
    assert.equal(isPackedBatch(bad), false, JSON.stringify(bad));
  }
});
