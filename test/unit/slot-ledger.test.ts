/**
 * The slot ledger that splits an app's thread limit across its workers: targets, and a
 * simulation with delayed messages in both directions checking that no interleaving ever lets
 * the workers together run more than the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SlotLedger, type WorkerLoad } from '../../server/supervisor/slot-ledger.js';

function ledgerWith(total: number, ids: number[]): SlotLedger {
  const ledger = new SlotLedger(total);
  for (const id of ids) {
    ledger.add(id);
    ledger.setAccepting(id, true);
  }
  return ledger;
}

const load = (running: number, queued: number, held: number, seq = 0): WorkerLoad => ({ running, queued, held, seq });

/** The plan without sequence numbers, for readable expectations. */
const limits = (ledger: SlotLedger): Array<[number, number]> => ledger.plan().map(([id, limit]) => [id, limit]);

test('an even split among accepting workers, the remainder to the first', () => {
  const ledger = ledgerWith(10, [1, 2, 3]);
  assert.deepEqual(limits(ledger), [[1, 4], [2, 3], [3, 3]]);
  assert.equal(ledger.free, 0);
});

test('a worker with a queue borrows idle slots; a lender keeps one', () => {
  const ledger = ledgerWith(8, [1, 2]);
  ledger.plan();
  ledger.report(1, load(4, 6, 4, 1));
  ledger.report(2, load(0, 0, 4, 1));
  // Worker 2 is lowered first; nothing is free until it confirms.
  assert.deepEqual(limits(ledger), [[2, 1]]);
  assert.equal(ledger.limitOf(1), 4);
  ledger.report(2, load(0, 0, 1, 2));
  assert.deepEqual(limits(ledger), [[1, 7]]);
  assert.equal(ledger.free, 0);
  // Demand comes back to worker 2: it gets its fair share back as worker 1's requests finish.
  ledger.report(2, load(1, 3, 1, 2));
  ledger.report(1, load(7, 0, 7, 2));
  assert.deepEqual(limits(ledger), [[1, 4]]);
  assert.equal(ledger.limitOf(2), 1, 'not raised before worker 1 gives back');
  ledger.report(1, load(4, 0, 4, 3));
  assert.deepEqual(limits(ledger), [[2, 4]]);
});

test('a draining worker keeps its slots until it gives them back, and they go to the new ones', () => {
  const ledger = ledgerWith(4, [1]);
  assert.deepEqual(ledger.plan(), [[1, 4, 1]]);
  ledger.report(1, load(2, 1, 4, 1));
  ledger.add(2);
  ledger.setAccepting(2, true);
  ledger.setAccepting(1, false);
  // A stale report must never strand its queued request: the worker itself lowers its limit.
  assert.deepEqual(limits(ledger), []);
  ledger.report(1, load(2, 1, 3, 1));
  assert.deepEqual(limits(ledger), [[2, 1]]);
  ledger.report(1, load(0, 0, 0, 1));
  ledger.plan();
  ledger.remove(1);
  ledger.plan();
  assert.equal(ledger.limitOf(2), 4);
});

test('a draining worker\'s report that predates our last limit does not free slots', () => {
  const ledger = ledgerWith(4, [1, 2]);
  ledger.plan();
  ledger.setAccepting(1, false);
  // Sent before limit #1 (2 slots) arrived: it says 0, but the worker is about to run 2.
  ledger.report(1, load(0, 1, 0, 0));
  assert.equal(ledger.free, 0);
  ledger.report(1, load(1, 0, 1, 1));
  assert.equal(ledger.free, 1);
});

test('a worker that dies frees its slots for the others', () => {
  const ledger = ledgerWith(6, [1, 2]);
  ledger.plan();
  ledger.remove(1);
  assert.deepEqual(limits(ledger), [[2, 6]]);
});

interface SimWorker {
  limit: number;
  running: number;
  queued: number;
  lastHeld: number;
  draining: boolean;
  seq: number;
  inbox: Array<[number, number]>;
  outbox: WorkerLoad[];
}

test('simulated: whatever the order of messages, the workers never run more than the total', () => {
  // Arrivals weigh most: borrowing (and so lowering a busy borrower) needs queues.
  const step = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('arrive' as const), w: fc.nat(3) }), weight: 4 },
    fc.record({ kind: fc.constant('finish' as const), w: fc.nat(3) }),
    fc.record({ kind: fc.constant('toWorker' as const), w: fc.nat(3) }),
    fc.record({ kind: fc.constant('toSupervisor' as const), w: fc.nat(3) }),
    fc.record({ kind: fc.constant('drainOne' as const), w: fc.nat(3) }),
    fc.record({ kind: fc.constant('raise' as const), w: fc.nat(6) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 4, max: 12 }), fc.array(step, { maxLength: 400 }), (count, total, steps) => {
      const ledger = new SlotLedger(total);
      const workers: SimWorker[] = [];
      for (let id = 0; id < count; id++) {
        workers.push({ limit: 0, seq: 0, running: 0, queued: 0, lastHeld: 0, draining: false, inbox: [], outbox: [] });
        ledger.add(id);
        ledger.setAccepting(id, true);
      }
      let limitTotal = total;
      const send = (): void => {
        for (const [id, limit, seq] of ledger.plan()) workers[id]?.inbox.push([limit, seq]);
      };
      const report = (w: SimWorker): void => {
        const held = Math.max(w.running, w.limit);
        w.outbox.push({ running: w.running, queued: w.queued, held, seq: w.seq });
        w.lastHeld = held;
      };
      const admit = (w: SimWorker): void => {
        while (w.queued > 0 && w.running < w.limit) {
          w.queued--;
          w.running++;
        }
        // As worker-main does: a draining worker gives back what its remaining work won't use.
        if (w.draining && w.running + w.queued < w.limit) w.limit = w.running + w.queued;
      };
      send();
      for (const s of steps) {
        const w = workers[s.w % workers.length] as SimWorker;
        switch (s.kind) {
          case 'arrive':
            if (w.running < w.limit && w.queued === 0) w.running++;
            else {
              w.queued++;
              report(w);
            }
            break;
          case 'finish':
            if (w.running > 0) {
              w.running--;
              admit(w);
              if (Math.max(w.running, w.limit) < w.lastHeld || w.queued === 0) report(w);
            }
            break;
          case 'toWorker': {
            const next = w.inbox.shift();
            if (next !== undefined) {
              [w.limit, w.seq] = next;
              admit(w);
              report(w);
            }
            break;
          }
          case 'toSupervisor': {
            const msg = w.outbox.shift();
            if (msg) {
              ledger.report(s.w % workers.length, msg);
              send();
            }
            break;
          }
          case 'drainOne':
            if (workers.filter((x) => !x.draining).length <= 1) break;
            ledger.setAccepting(s.w % workers.length, false);
            w.draining = true;
            admit(w);
            report(w);
            send();
            break;
          case 'raise':
            limitTotal += s.w;
            ledger.setTotal(limitTotal);
            send();
            break;
        }
        const running = workers.reduce((sum, x) => sum + x.running, 0);
        assert.ok(running <= limitTotal, `${running} running with a total of ${limitTotal}`);
        assert.ok(ledger.free >= 0, `ledger overcommitted: free ${ledger.free}`);
      }
      // Liveness: no arrivals any more; messages are delivered and requests finish. Every queue
      // must run dry: no worker waits for slots that never come.
      for (let round = 0; round < 500 && workers.some((w) => w.running + w.queued > 0); round++) {
        for (const [id, w] of workers.entries()) {
          for (let next = w.inbox.shift(); next !== undefined; next = w.inbox.shift()) {
            [w.limit, w.seq] = next;
            admit(w);
            report(w);
          }
          if (w.running > 0) {
            w.running--;
            admit(w);
            report(w);
          }
          for (let msg = w.outbox.shift(); msg; msg = w.outbox.shift()) ledger.report(id, msg);
          send();
          const running = workers.reduce((sum, x) => sum + x.running, 0);
          assert.ok(running <= limitTotal, `${running} running with a total of ${limitTotal}`);
        }
      }
      for (const w of workers) assert.equal(w.running + w.queued, 0, `a worker left with ${w.queued} queued (limit ${w.limit})`);
    }),
    { numRuns: 500 },
  );
});

test('a worker presumed stuck keeps only the requests it ran: the rest of its share goes to the others at once', () => {
  // Pins: a hung worker that had borrowed slots kept them until its kill, as a lowering it never read freed nothing.
  const ledger = ledgerWith(4, [1, 2]);
  ledger.plan();
  ledger.report(1, load(2, 3, 2, 1));
  ledger.report(2, load(0, 0, 2, 1));
  ledger.plan();
  ledger.report(2, load(0, 0, 1, 2));
  assert.deepEqual(limits(ledger), [[1, 3]], 'worker 1 borrowed worker 2\'s idle slot');
  // Worker 1 hangs inside one request; worker 2 gets all the traffic.
  ledger.report(1, load(1, 0, 3, 2));
  ledger.report(2, load(1, 5, 1, 2));
  assert.deepEqual(limits(ledger), [[1, 1]], 'a lowering the hung worker never reads');
  assert.equal(ledger.free, 0, 'so worker 2 stays at 1 slot');
  assert.deepEqual(ledger.presumeStuck(1), [1, 1, 4]);
  assert.deepEqual(limits(ledger), [[2, 3]], 'all but the stuck request\'s slot');
  assert.equal(ledger.free, 0);
  // It answers after all: it takes part in the split again, from what it reports.
  ledger.setAccepting(1, true);
  ledger.report(1, load(0, 0, 1, 4));
  ledger.report(2, load(0, 0, 3, 3));
  assert.deepEqual(limits(ledger), [[2, 2]]);
  ledger.report(2, load(0, 0, 2, 5));
  assert.deepEqual(limits(ledger), [[1, 2]]);
});
