// A worker's rows and load on its rows pipe (server/supervisor/rows-outlet.ts), written to a real
// file descriptor and read back as the supervisor decodes them: the load leaves once per turn,
// only when it changed, and after the rows whose slots it released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchPacker, unpack } from '../../server/store/packed-batch.js';
import { encodeFrame, FrameDecoder } from '../../server/store/row-frames.js';
import { createRowsOutlet } from '../../server/supervisor/rows-outlet.js';
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

test('without a ring, the load leaves once at the end of the turn that changed it, with its last figures, and not again unchanged', async (t) => {
  const { fd, read } = await pipeInFile(t);
  const outlet = createRowsOutlet({ ring: null, pipeFd: fd, takeRows: () => {}, onPipeLost: (err) => assert.fail(err) });
  outlet.load(1, 0);
  outlet.load(2, 0);
  outlet.load(2, 3);
  assert.deepEqual(read(), [], 'nothing before the turn ends');
  await endOfTurn();
  assert.deepEqual(read(), ['load 2/3']);
  outlet.load(1, 3);
  outlet.load(2, 3);
  await endOfTurn();
  assert.deepEqual(read(), ['load 2/3'], 'a turn that ended where it began sends nothing');
});

test("a finished request's row leaves before the load that released its slot", async (t) => {
  const { fd, read } = await pipeInFile(t);
  const pending: Buffer[] = [];
  // As the worker's recorder: rows wait for the end of the turn, or for takeRows.
  const outlet = createRowsOutlet({ ring: null, pipeFd: fd, takeRows: () => pending.splice(0).forEach((frame) => outlet.rows(frame)), onPipeLost: (err) => assert.fail(err) });
  outlet.load(2, 0);
  await endOfTurn();
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
  const outlet = createRowsOutlet({ ring: null, pipeFd: fd, takeRows: () => pending.splice(0).forEach((frame) => outlet.rows(frame)), onPipeLost: (err) => assert.fail(err) });
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
