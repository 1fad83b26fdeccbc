/**
 * An app's figures across a worker's exit. Node emits a child's 'exit' from SIGCHLD and reads its
 * IPC channel to the end after it, so the figures a worker sends as it drains can arrive after its
 * 'exit': the totals must take them whenever they come, and never go backwards meanwhile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { AppStats } from '../../server/host/app-stats.js';
import type { WorkerFigures } from '../../server/supervisor/ipc-protocol.js';
import { PoolFigures } from '../../server/supervisor/pool-figures.js';
import type { PoolOptions } from '../../server/supervisor/pool-options.js';
import type { WorkerProcess } from '../../server/supervisor/worker-process.js';
import type { PoolWorker } from '../../server/supervisor/worker-role.js';

function figures(requests: number, { websockets = 0, rowsRecorded = requests } = {}): WorkerFigures {
  const stats = new AppStats();
  for (let i = 0; i < requests; i++) stats.record(1, 0, 200);
  stats.websockets = websockets;
  return {
    running: 0, queued: 0, held: 4, seq: 0, stats: stats.toData(), rssBytes: 0, rowsRecorded, inFlight: [],
    process: { startTimeSeconds: 0, cpuUserSeconds: 0, cpuSystemSeconds: 0 } as WorkerFigures['process'],
  };
}

/** What PoolFigures reads of a worker process, with its last messages and its end in the test's hands. */
class FakeWorker {
  alive = true;
  state = 'accepting';
  readonly pid = 4242;
  readonly figuresAt = 0;
  rowsReceived = 0;
  readonly settled: Promise<void>;
  settle: () => void = () => {};

  constructor(public figures: WorkerFigures | null) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  load(): null {
    return null;
  }

  dropFigures(): void {
    this.figures = null;
  }

  exit(): void {
    this.alive = false;
    this.state = 'exited';
  }
}

function pool(): PoolFigures {
  const options = { name: 'app', listen: '', mount: '/', startConfig: { routeFigures: false, app: { queue: 10 } }, log: pino({ level: 'silent' }), onRow() {} };
  return new PoolFigures(options as unknown as PoolOptions, 1000);
}

const requestsOf = (p: PoolFigures, live: FakeWorker[]): number => p.state(live.map((w) => ({ process: w }) as unknown as PoolWorker), 4, 0).requests;

test("a worker's drained figures that arrive after its 'exit' are counted, once, and the total never dips meanwhile", async () => {
  const p = pool();
  const other = new FakeWorker(figures(3));
  const gone = new FakeWorker(figures(5));
  assert.equal(requestsOf(p, [other, gone]), 8);
  // 'exit' first: the pool forgets it and retires it with what it had then (its last heartbeat).
  gone.exit();
  p.retire(gone as unknown as WorkerProcess);
  assert.equal(requestsOf(p, [other]), 8);
  // Its 'drained' message, read from the channel after the exit: three more requests.
  gone.figures = figures(8);
  assert.equal(requestsOf(p, [other]), 11);
  gone.settle();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(requestsOf(p, [other]), 11);
  // Once all it sent is read it is retired with that; nothing after counts twice.
  gone.figures = figures(20);
  assert.equal(requestsOf(p, [other]), 11);
});

test('a gone worker holds no WebSocket, and its undelivered rows are counted once all it sent is read', async () => {
  const p = pool();
  const gone = new FakeWorker(figures(10, { websockets: 3, rowsRecorded: 10 }));
  gone.rowsReceived = 7;
  const state = (): ReturnType<PoolFigures['state']> => p.state([], 4, 0);
  gone.exit();
  p.retire(gone as unknown as WorkerProcess);
  assert.equal(state().websockets, 0);
  assert.equal(state().requests, 10);
  assert.equal(p.rowsLost, 0, 'not before its pipe and channel are read');
  gone.rowsReceived = 9;
  gone.settle();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(p.rowsLost, 1);
  assert.equal(state().websockets, 0);
  assert.equal(state().requests, 10);
});
