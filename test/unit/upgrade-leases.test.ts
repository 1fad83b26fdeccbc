// The app's maxUpgrades across its workers (server/supervisor/upgrade-leases.ts, the supervisor's
// half; server/http/upgrade-capacity.ts, a worker's): the leases never add up past the cap, in any
// order of asks, give-backs and exits, and a worker asks once at a time and gives back in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UpgradeLeases } from '../../server/supervisor/upgrade-leases.js';
import { fixedCapacity, UpgradeLease, type LeaseMessage } from '../../server/http/upgrade-capacity.js';

test('grants come from what no lease holds, a few at a time, and none past the cap', () => {
  const leases = new UpgradeLeases(3);
  const both = [1, 2];
  assert.deepEqual(leases.ask(1, 1, both), { answer: { worker: 1, seq: 1, count: 1 } }, 'a cap of 3 over 2 workers: one at a time');
  assert.equal(leases.ask(1, 2, both).answer?.count, 1);
  assert.equal(leases.ask(2, 1, both).answer?.count, 1);
  leases.returned(1, 1, 2);
  assert.equal(leases.ask(2, 2, both).answer?.count, 1, 'what one gave back another gets');
  leases.remove(2, 1);
  assert.equal(leases.free, 2, 'an exited worker holds nothing');
  assert.equal(new UpgradeLeases(10_000).ask(1, 1, both).answer?.count, 64, 'a large cap: 64 a question');
  assert.equal(new UpgradeLeases(3).ask(1, 1, [1]).answer?.count, 1);
});

test('at the cap, the others give back their spare before a full worker is refused', () => {
  const leases = new UpgradeLeases(4);
  const all = [1, 2, 3];
  leases.ask(1, 1, all);
  leases.ask(1, 2, all);
  leases.ask(2, 1, all);
  leases.ask(3, 1, all);
  assert.equal(leases.free, 0);
  // Worker 1 is full; 2 and 3 each hold one they may not use.
  assert.deepEqual(leases.ask(1, 3, all), { reclaim: [2, 3] });
  assert.deepEqual(leases.ask(1, 4, all), {}, 'a second question waits for the same reclaim');
  assert.deepEqual(leases.returned(2, 1, 3), [{ worker: 1, seq: 3, count: 1 }], 'what 2 gave back answers the oldest question');
  assert.deepEqual(leases.returned(3, 0, 3), [{ worker: 1, seq: 4, count: 0 }], '3 uses its own: the other question is refused once all answered');
  assert.equal(leases.waiting, false);
  // Nobody else holds anything: refused at once, no reclaim.
  const alone = new UpgradeLeases(1);
  alone.ask(1, 1, [1, 2]);
  assert.deepEqual(alone.ask(1, 2, [1, 2]), { answer: { worker: 1, seq: 2, count: 0 } });
  // A reclaim nobody answers: the deadline refuses what waits; an exit answers for the worker.
  const slow = new UpgradeLeases(2);
  slow.ask(1, 1, [1, 2]);
  slow.ask(2, 1, [1, 2]);
  assert.deepEqual(slow.ask(1, 2, [1, 2]), { reclaim: [2] });
  assert.deepEqual(slow.expire(), [{ worker: 1, seq: 2, count: 0 }]);
  assert.deepEqual(slow.ask(1, 3, [1, 2]), { reclaim: [2] });
  assert.deepEqual(slow.remove(2, 1), [{ worker: 1, seq: 3, count: 1 }]);
});

test('any order of questions, give-backs, deadlines and exits: the leases never pass the cap, and every question is answered once (property)', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('ask' as const), worker: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('returned' as const), worker: fc.integer({ min: 1, max: 4 }), count: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ kind: fc.constant('expire' as const) }),
    fc.record({ kind: fc.constant('remove' as const), worker: fc.integer({ min: 1, max: 4 }) }),
  );
  fc.assert(fc.property(fc.integer({ min: 1, max: 500 }), fc.array(op, { maxLength: 200 }), (total, ops) => {
    const leases = new UpgradeLeases(total);
    const workers = [1, 2, 3, 4];
    const pending = new Set<string>();
    let seq = 0;
    const answered = (answers: Array<{ worker: number; seq: number }>): void => {
      for (const a of answers) assert.ok(pending.delete(`${a.worker}/${a.seq}`), `answered once: ${a.worker}/${a.seq}`);
    };
    for (const o of ops) {
      if (o.kind === 'ask') {
        const key = `${o.worker}/${++seq}`;
        pending.add(key);
        const { answer } = leases.ask(o.worker, seq, workers);
        if (answer) answered([answer]);
      } else if (o.kind === 'returned') answered(leases.returned(o.worker, Math.min(o.count, leases.leaseOf(o.worker)), workers.length));
      else if (o.kind === 'expire') answered(leases.expire());
      else {
        for (const key of [...pending]) if (key.startsWith(`${o.worker}/`)) pending.delete(key);
        answered(leases.remove(o.worker, workers.length));
      }
      let sum = 0;
      for (const w of workers) sum += leases.leaseOf(w);
      assert.ok(sum <= total, `${sum} leased of ${total}`);
      assert.equal(leases.free, total - sum);
      assert.equal(leases.waiting, pending.size > 0);
    }
  }));
});

/** A worker's lease against a supervisor that answers when told to. */
function leaseWithSupervisor(total: number) {
  const supervisor = new UpgradeLeases(total);
  const sent: LeaseMessage[] = [];
  const lease = new UpgradeLease(total, (message) => {
    sent.push(message);
    if (message.type === 'upgradesReturned') supervisor.returned(1, message.count, 1);
  });
  const answer = (): void => {
    const ask = sent.filter((m) => m.type === 'upgradesWanted').at(-1) as { seq: number };
    const { answer: a } = supervisor.ask(1, ask.seq, [1]);
    lease.granted(ask.seq, a?.count ?? 0);
  };
  return { supervisor, sent, lease, answer };
}

test('a worker asks once at a time, counts every answer, and gives back in grants\' worth', async () => {
  const { supervisor, sent, lease, answer } = leaseWithSupervisor(100);
  assert.equal(lease.held, 0);
  const first = lease.more();
  assert.equal(lease.more(), first, 'a second upgrade waits for the same answer');
  assert.equal(sent.length, 1);
  answer();
  assert.equal(await first, 6, 'a cap of 100 for one worker: 6 a question');
  assert.equal(lease.held, 6);
  lease.settle(5, false);
  assert.equal(lease.held, 6, 'one spare short of a grant: kept');
  lease.settle(0, false);
  assert.equal(lease.held, 6, 'six unused: one grant kept as the spare, nothing yet above it');
  const again = lease.more();
  answer();
  await again;
  assert.equal(lease.held, 12);
  lease.settle(0, false);
  assert.equal(lease.held, 6, 'two grants unused: one goes back');
  assert.equal(supervisor.leaseOf(1), 6);
  lease.settle(3, true);
  assert.equal(lease.held, 3, 'draining: all it does not use goes back');
  assert.equal(supervisor.leaseOf(1), 3);
  lease.settle(2, false);
  lease.reclaim();
  assert.equal(lease.held, 2, 'a reclaim takes back all but what is open');
  lease.reclaim();
  assert.deepEqual(sent.at(-1), { type: 'upgradesReturned', count: 0 }, 'and is answered even when nothing is spare');
});

test('a supervisor that does not answer in time: the ask gives up (0), and its late answer still counts', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { supervisor, lease, answer } = leaseWithSupervisor(2);
  const asked = lease.more();
  t.mock.timers.tick(2000);
  assert.equal(await asked, 0);
  assert.equal(lease.held, 0);
  answer();
  assert.equal(lease.held, supervisor.leaseOf(1), 'the worker counts what the supervisor counted');
  assert.equal(lease.held, 1);
});

test('in-process: the whole cap, no one to ask', () => {
  const capacity = fixedCapacity(5);
  assert.equal(capacity.held, 5);
  assert.equal(capacity.more(), null);
});
