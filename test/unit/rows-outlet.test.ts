// A worker's rows and load on its rows pipe (server/supervisor/rows-outlet.ts), written to a real
// file descriptor and read back as the supervisor decodes them: a load that grew leaves at once,
// one that fell at the end of the turn, each only when it changed and after the rows whose slots
// it released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchPacker, unpack } from '../../server/store/packed-batch.js';
import { encodeFrame, FrameDecoder } from '../../server/store/row-frames.js';
import { createRowsOutlet, type RowsOutlet } from '../../server/supervisor/rows-outlet.js';
import { Outcome } from '../../shared/timing-row.js';
import { testDir } from '../helpers/temp-dir.js';

function rowsFrame(path: string): Buffer {
  const packer = new BatchPacker(10, { recordPaths: true, maxPathLength: 200 });
  packer.push({ app: 'shop', startMs: 1.7e12, queueMs: 0, serviceMs: 1, status: 200, outcome: Outcome.ANSWERED, bytesIn: 0, bytesOut: 2, method: 'GET', path });
  return encodeFrame(packer.take());
}

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function pipeInFile(t: { after(fn: () => unknown): void }) {
  const file = join(await testDir(t, 'rows-outlet'), 'pipe');
  const fd = openSync(file, 'w');
  t.after(() => closeSync(fd));
  /** What a supervisor reading the whole stream so far sees: each row's path or `load r/q`, in order. */
  const read = (): string[] => {
    const seen: string[] = [];
    const bytes = readFileSync(file);
    for (let at = 0; at < bytes.length; ) {
      const end = at + 4 + bytes.readUInt32LE(at);
      const decoder = new FrameDecoder();
      const batches = decoder.push(bytes.subarray(at, end));
      for (const batch of batches) for (const row of unpack(batch)) seen.push(row.path ?? '');
      if (batches.length === 0) seen.push(`load ${decoder.load?.join('/')}`);
      at = end;
    }
    return seen;
  };
  return { fd, read };
}

/** An outlet on `fd` whose takeRows hands over the frames in `pending`, as the worker's recorder does. */
function outletTakingFrom(fd: number, pending: Buffer[]): RowsOutlet {
  const outlet = createRowsOutlet({ ring: null, pipeFd: fd, takeRows: () => pending.splice(0).forEach((frame) => outlet.rows(frame)), onPipeLost: (err) => assert.fail(err) });
  return outlet;
}

test('without a ring, an admitted request sends the load at once, before its code runs', async (t) => {
  const { fd, read } = await pipeInFile(t);
  const outlet = createRowsOutlet({ ring: null, pipeFd: fd, takeRows: () => {}, onPipeLost: (err) => assert.fail(err) });
  outlet.load(1, 0);
  assert.deepEqual(read(), ['load 1/0'], 'a worker killed now has its request counted');
  outlet.load(1, 1);
  assert.deepEqual(read(), ['load 1/0', 'load 1/1']);
  // Queued to running keeps the total: no new request, so it waits for the turn's end.
  outlet.load(2, 0);
  assert.deepEqual(read(), ['load 1/0', 'load 1/1']);
  await endOfTurn();
  assert.deepEqual(read(), ['load 1/0', 'load 1/1', 'load 2/0']);
});

test('without a ring, a load that fell leaves once at the end of the turn, with its last figures, and not again unchanged', async (t) => {
  const { fd, read } = await pipeInFile(t);
  const outlet = createRowsOutlet({ ring: null, pipeFd: fd, takeRows: () => {}, onPipeLost: (err) => assert.fail(err) });
  outlet.load(3, 2);
  outlet.load(2, 2);
  outlet.load(1, 2);
  assert.deepEqual(read(), ['load 3/2'], 'a fall waits for the turn to end');
  await endOfTurn();
  assert.deepEqual(read(), ['load 3/2', 'load 1/2']);
  outlet.load(0, 2);
  outlet.load(1, 2);
  await endOfTurn();
  assert.deepEqual(read(), ['load 3/2', 'load 1/2'], 'a turn that ended where it began sends nothing');
});

test('an admitted request takes the rows recorded before it along, ahead of its code', async (t) => {
  const { fd, read } = await pipeInFile(t);
  const pending: Buffer[] = [];
  const outlet = outletTakingFrom(fd, pending);
  outlet.load(1, 0);
  // A finishes (its row waits for the turn's end), then B is admitted in the same turn: a kill
  // after B's count left must not lose A's row, so it leaves first.
  pending.push(rowsFrame('/a'));
  outlet.load(0, 0);
  outlet.load(1, 0);
  assert.deepEqual(read(), ['load 1/0', '/a']);
  await endOfTurn();
  assert.deepEqual(read(), ['load 1/0', '/a'], 'the count is where it was sent');
});

test("a finished request's row leaves before the load that released its slot", async (t) => {
  const { fd, read } = await pipeInFile(t);
  const pending: Buffer[] = [];
  // As the worker's recorder: rows wait for the end of the turn, or for takeRows.
  const outlet = outletTakingFrom(fd, pending);
  outlet.load(2, 0);
  pending.push(rowsFrame('/a'));
  outlet.load(1, 0);
  await endOfTurn();
  assert.deepEqual(read(), ['load 2/0', '/a', 'load 1/0']);
  // Rows sent by the recorder itself (its own end-of-turn flush) carry the changed load too.
  outlet.load(0, 0);
  outlet.rows(rowsFrame('/b'));
  assert.deepEqual(read(), ['load 2/0', '/a', 'load 1/0', '/b', 'load 0/0']);
  await endOfTurn();
  assert.deepEqual(read(), ['load 2/0', '/a', 'load 1/0', '/b', 'load 0/0'], 'the load already left with the rows');
});

test('flush() sends the pending rows and load at once (the process is exiting)', async (t) => {
  const { fd, read } = await pipeInFile(t);
  const pending = [rowsFrame('/c')];
  const outlet = outletTakingFrom(fd, pending);
  outlet.load(4, 1);
  outlet.flush();
  assert.deepEqual(read(), ['/c', 'load 4/1']);
});

test('a pipe that fails is reported once, and the worker goes on', async () => {
  const failures: string[] = [];
  const outlet = createRowsOutlet({ ring: null, pipeFd: 2 ** 30, takeRows: () => {}, onPipeLost: (err) => failures.push((err as NodeJS.ErrnoException).code ?? '') });
  outlet.rows(rowsFrame('/d'));
  outlet.load(1, 0);
  outlet.flush();
  assert.deepEqual(failures, ['EBADF']);
});
